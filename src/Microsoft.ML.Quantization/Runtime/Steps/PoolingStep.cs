using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Microsoft.ML.Quantization.Graph;
namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>
/// Max, average (padding counted as zeros, as torch's default) or global average pooling over [C,H,W]. A max pool may
/// write its output <see cref="SlotLayout.ChannelsLast"/> and may apply the ReLU before it to its maxima instead.
/// </summary>
internal sealed class PoolingStep : ScoringStep
{
    private readonly ValueSlot input;
    private readonly NodeKind kind;
    private readonly int kernel, stride, padding;
    private readonly bool relu;

    /// <summary>
    /// The step; <paramref name="relu"/>: a max pool's input is the ReLU's (read by nothing else), which the step applies to
    /// the maxima: ReLU and max commute, with the same values (−0 to +0 and NaN kept as either does), on a quarter of the elements.
    /// </summary>
    public PoolingStep(string name, NodeKind kind, ValueSlot input, ValueSlot output, int kernel, int stride, int padding, bool relu = false) : base(name, output)
    {
        if (relu && kind != NodeKind.MaxPool) throw new ArgumentException("Only a max pool takes the ReLU before it.", nameof(relu));
        if (output.Layout == SlotLayout.ChannelsLast && kind != NodeKind.MaxPool) throw new ArgumentException("Only a max pool writes channels-last.", nameof(output));
        this.input = input;
        this.kind = kind;
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
        this.relu = relu;
    }

    public override void Run(Workspace ws)
    {
        var x = ws.Floats(input);
        var y = ws.Floats(Output);
        int channels = input.Shape[0], height = input.Shape[1], width = input.Shape[2];
        if (kind == NodeKind.GlobalAvgPool)
        {
            int area = height * width;
            for (int c = 0; c < channels; c++)
            {
                float sum = 0;
                for (int i = 0; i < area; i++) sum += x[c * area + i];
                y[c] = sum / area;
            }
            return;
        }
        int outHeight = Output.Shape[1], outWidth = Output.Shape[2];
        if (kind == NodeKind.MaxPool)
        {
            long cost = (long)channels * height * width * kernel;
            // Channels-last, threads take whole output rows, so that none writes another's pixels.
            if (Output.Layout == SlotLayout.ChannelsLast) ws.Split(outHeight, cost, (first, count) => MaxPoolPixels(x, y, first, count));
            else ws.Split(channels, cost, (first, count) => MaxPool(x, y, first, count));
            return;
        }
        for (int c = 0; c < channels; c++)
            for (int oy = 0; oy < outHeight; oy++)
                for (int ox = 0; ox < outWidth; ox++)
                {
                    float sum = 0;
                    for (int ky = 0; ky < kernel; ky++)
                        for (int kx = 0; kx < kernel; kx++)
                        {
                            int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                            if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
                            sum += x[(c * height + iy) * width + ix];
                        }
                    y[(c * outHeight + oy) * outWidth + ox] = sum / (kernel * kernel);
                }
    }

    /// <summary>Max pooling of channels [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>), row by row (<see cref="MaxRow"/>).</summary>
    private void MaxPool(float[] x, float[] y, int first, int count)
    {
        int outHeight = Output.Shape[1], outWidth = Output.Shape[2], length = input.Shape[2] + 2 * padding + ColumnSlack;
        Span<float> column = length <= 4096 ? stackalloc float[length] : new float[length]; // scoring allocates nothing on images of usual sizes
        column.Fill(float.NegativeInfinity);
        for (int c = first; c < first + count; c++)
            for (int oy = 0; oy < outHeight; oy++) MaxRow(x, c, oy, column, y.AsSpan((c * outHeight + oy) * outWidth, outWidth));
    }

    /// <summary>
    /// Max pooling of output rows [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>), every channel,
    /// into a channels-last <paramref name="y"/>: with AVX2, the rows of 8 channels at a time turned into pixels by 8×8 transposes
    /// in registers (value by value, the stores 64 floats apart took ResNet18's pool from 0.30 to 0.44 ms).
    /// </summary>
    private unsafe void MaxPoolPixels(float[] x, float[] y, int first, int count)
    {
        int channels = input.Shape[0], outWidth = Output.Shape[2], length = input.Shape[2] + 2 * padding + ColumnSlack;
        int group = Avx2.IsSupported && channels % 8 == 0 ? 8 : 1;
        Span<float> column = length <= 4096 ? stackalloc float[length] : new float[length];
        Span<float> rows = group * outWidth <= 4096 ? stackalloc float[group * outWidth] : new float[group * outWidth];
        var tile = stackalloc Vector256<float>[8];
        column.Fill(float.NegativeInfinity);
        for (int oy = first; oy < first + count; oy++)
            for (int c = 0; c < channels; c += group)
            {
                for (int j = 0; j < group; j++) MaxRow(x, c + j, oy, column, rows.Slice(j * outWidth, outWidth));
                int ox = 0, pixel = oy * outWidth;
                if (group == 8)
                    for (; ox + 8 <= outWidth; ox += 8)
                    {
                        for (int j = 0; j < 8; j++) tile[j] = Vector256.Create<float>(rows.Slice(j * outWidth + ox, 8));
                        FloatTranspose.Transpose8(tile);
                        for (int i = 0; i < 8; i++) tile[i].CopyTo(y, (pixel + ox + i) * channels + c);
                    }
                for (; ox < outWidth; ox++)
                    for (int j = 0; j < group; j++) y[(pixel + ox) * channels + c + j] = rows[j * outWidth + ox];
            }
    }

    /// <summary>
    /// Output row <paramref name="oy"/> of channel <paramref name="c"/> into <paramref name="output"/>, separably: the rows a
    /// window row covers are first reduced element-wise on vectors into the <paramref name="column"/> row, whose borders
    /// (−∞) no call writes, then that row across each window's columns, 16 windows at a time with AVX-512 at strides 1 and 2
    /// (a stride-2 window's columns are every other element of two loads, picked by one permute; column by column, this was
    /// 0.6 of ResNet18's 0.65 ms pool), 8 with AVX2 (picked by a shuffle and a permute; column by column, ResNet18's pool took
    /// 1.26 ms without AVX-512). Exact in any order: <see cref="Math.Max(float, float)"/> and <see cref="Vector512.Max{T}"/>
    /// both return NaN if either is NaN and +0 over −0. A window wholly in the padding (not possible with torch's padding ≤
    /// kernel/2) gives −∞, or 0 after the ReLU.
    /// </summary>
    private void MaxRow(float[] x, int c, int oy, Span<float> column, Span<float> output)
    {
        int height = input.Shape[1], width = input.Shape[2], outWidth = output.Length;
        int top = Math.Max(0, oy * stride - padding), bottom = Math.Min(height, oy * stride - padding + kernel);
        if (top >= bottom)
        {
            output.Fill(relu ? 0f : float.NegativeInfinity);
            return;
        }
        var inside = column.Slice(padding, width);
        x.AsSpan((c * height + top) * width, width).CopyTo(inside);
        for (int iy = top + 1; iy < bottom; iy++) MaxInto(inside, x.AsSpan((c * height + iy) * width, width));
        int ox = 0;
        if (Avx512F.IsSupported && stride <= 2)
            for (; ox + 16 <= outWidth; ox += 16) WindowMaxima(column, ox * stride).CopyTo(output[ox..]);
        else if (Avx2.IsSupported && stride <= 2)
            for (; ox + 8 <= outWidth; ox += 8) WindowMaxima256(column, ox * stride).CopyTo(output[ox..]);
        for (; ox < outWidth; ox++)
        {
            float best = float.NegativeInfinity;
            for (int kx = 0; kx < kernel; kx++) best = Math.Max(best, column[ox * stride + kx]);
            output[ox] = best;
        }
        if (relu) TensorPrimitives.Max(output, 0f, output);
    }

    // Past the right border: at stride 2 the 16 windows from x need columns up to x + 30 + kx, and their second load reads one more.
    private const int ColumnSlack = 1;

    private static readonly Vector512<int> EveryOther = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);

    /// <summary>The maxima of the 16 windows whose first columns are <paramref name="start"/>, + stride, … in the padded column row.</summary>
    private Vector512<float> WindowMaxima(ReadOnlySpan<float> column, int start)
    {
        var best = Vector512.Create(float.NegativeInfinity);
        for (int kx = 0; kx < kernel; kx++)
        {
            var values = Vector512.Create(column.Slice(start + kx, 16));
            if (stride == 2) values = Avx512F.PermuteVar16x32x2(values, EveryOther, Vector512.Create(column.Slice(start + kx + 16, 16)));
            best = Vector512.Max(best, values);
        }
        return best;
    }

    /// <summary>The maxima of the 8 windows whose first columns are <paramref name="start"/>, + stride, … (AVX2).</summary>
    private Vector256<float> WindowMaxima256(ReadOnlySpan<float> column, int start)
    {
        var best = Vector256.Create(float.NegativeInfinity);
        for (int kx = 0; kx < kernel; kx++)
        {
            var values = Vector256.Create(column.Slice(start + kx, 8));
            if (stride == 2)
            {
                var evens = Avx.Shuffle(values, Vector256.Create(column.Slice(start + kx + 8, 8)), 0b10_00_10_00); // a0 a2 b0 b2 | a4 a6 b4 b6
                values = Avx2.Permute4x64(evens.AsDouble(), 0b11_01_10_00).AsSingle(); // a0 a2 a4 a6 b0 b2 b4 b6
            }
            best = Vector256.Max(best, values);
        }
        return best;
    }

    /// <summary><paramref name="into"/>[i] = max(<paramref name="into"/>[i], <paramref name="row"/>[i]).</summary>
    private static void MaxInto(Span<float> into, ReadOnlySpan<float> row)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
            for (; i + Vector<float>.Count <= into.Length; i += Vector<float>.Count)
                Vector.Max(new Vector<float>(into[i..]), new Vector<float>(row[i..])).CopyTo(into[i..]);
        for (; i < into.Length; i++) into[i] = Math.Max(into[i], row[i]);
    }
}
