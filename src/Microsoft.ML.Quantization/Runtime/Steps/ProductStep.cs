using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>
/// Conv2d or Linear: gathers the input into rows (im2col for a convolution, through a gather map computed
/// once; the identity for a linear layer), converts them to the form its <see cref="DenseProduct"/> takes,
/// and writes the channel-major output, or, with an <see cref="ActivationEpilogue"/>, the codes of the quantizer
/// after its ReLU and pool.
/// </summary>
internal sealed class ProductStep : ScoringStep
{
    private readonly ValueSlot input;
    private readonly DenseProduct product;
    private readonly int[]? gather; // [positions · depth] source index, −1 for zero padding
    private readonly int positions;
    private readonly ActivationEpilogue? epilogue;

    private readonly bool positionMajor;

    /// <summary>The step; <paramref name="positionMajor"/>: a position-major float output ([positions, outputs], the LSTM's input gates) rather than channel-major.</summary>
    public ProductStep(string name, ValueSlot input, ValueSlot output, DenseProduct product, int[]? gather, int positions, ActivationEpilogue? epilogue = null, bool positionMajor = false)
        : base(name, epilogue?.Target ?? output)
    {
        this.positionMajor = positionMajor;
        this.epilogue = epilogue;
        this.input = input;
        this.product = product;
        this.gather = gather;
        this.positions = positions;
    }

    public override string Kernel => product.Kernel;

    public override long WeightBytes => product.WeightBytes;

    /// <summary>The im2col gather map of a convolution over [C,H,W] with square kernel, stride and padding.</summary>
    public static int[] ConvolutionMap(int channels, int height, int width, int kernel, int stride, int padding, out int outHeight, out int outWidth)
    {
        outHeight = (height + 2 * padding - kernel) / stride + 1;
        outWidth = (width + 2 * padding - kernel) / stride + 1;
        int depth = channels * kernel * kernel;
        var map = new int[outHeight * outWidth * depth];
        int i = 0;
        for (int oy = 0; oy < outHeight; oy++)
            for (int ox = 0; ox < outWidth; ox++)
                for (int c = 0; c < channels; c++)
                    for (int ky = 0; ky < kernel; ky++)
                        for (int kx = 0; kx < kernel; kx++)
                        {
                            int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                            map[i++] = iy >= 0 && iy < height && ix >= 0 && ix < width ? (c * height + iy) * width + ix : -1;
                        }
        return map;
    }

    public override void Run(Workspace ws)
    {
        int depth = product.Depth, ldx = product.PaddedDepth;
        var y = epilogue is null ? ws.Floats(Output) : Array.Empty<float>();
        switch (product.Input)
        {
            case ProductInput.Bytes:
                Finish(ws, ws.RowBytes(positions * ldx), null, ldx, y);
                break;
            case ProductInput.Shorts:
                Finish(ws, null, ws.RowShorts(positions * ldx), ldx, y);
                break;
            default:
            {
                var rows = ws.RowFloats(positions * ldx);
                bool integer = input.IsInteger;
                float unit = input.Codec?.Unit ?? 1f;
                var xi = integer ? ws.Shorts(input) : null;
                var xf = integer ? null : ws.Floats(input);
                for (int p = 0; p < positions; p++)
                    for (int k = 0; k < depth; k++)
                    {
                        int src = gather is null ? p * depth + k : gather[p * depth + k];
                        rows[p * ldx + k] = src < 0 ? 0f : integer ? xi![src] * unit : xf![src];
                    }
                product.Run(ws, default, default, rows, ldx, positions, y, positionMajor ? product.Outputs : positions, positionMajor);
                break;
            }
        }
    }

    /// <summary>
    /// Gathers integer rows (bytes: level + offset, or shorts: the level) for the positions, then the integer product and the
    /// float output or the fused epilogue, whose rows threads share (each gathering its own positions).
    /// </summary>
    private void Finish(Workspace ws, byte[]? bytes, short[]? shorts, int ldx, float[] y)
    {
        if (epilogue is null)
        {
            Gather(ws, bytes, shorts, ldx, 0, positions);
            product.Run(ws, bytes, shorts, default, ldx, positions, y, positionMajor ? product.Outputs : positions, positionMajor);
            return;
        }
        int ldc = product.PaddedOutputs, read = epilogue.PositionsRead;
        var acc = ws.AlignedInts(read * ldc);
        epilogue.RunByRows(ws, acc, ldc, (long)read * product.Outputs * product.Depth, (start, n) =>
        {
            Gather(ws, bytes, shorts, ldx, start, n);
            product.Accumulate(bytes.AsSpan(Math.Min(bytes?.Length ?? 0, start * ldx)), shorts.AsSpan(Math.Min(shorts?.Length ?? 0, start * ldx)), ldx, n, acc.AsSpan(start * ldc));
        });
    }

    /// <summary>The input rows of positions [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) into whichever of the two arrays is given.</summary>
    private void Gather(Workspace ws, byte[]? bytes, short[]? shorts, int ldx, int start, int count)
    {
        var x = ws.Shorts(input);
        int depth = product.Depth, offset = product.Offset;
        if (gather is null && bytes is not null && Vector256.IsHardwareAccelerated) // rows as they stand (a linear layer, the LSTM's inputs): 32 at a time
        {
            var bias = Vector256.Create((short)offset);
            for (int p = start; p < start + count; p++)
            {
                int k = 0;
                for (; k + 32 <= depth; k += 32)
                    Vector256.Narrow((Vector256.Create(x, p * depth + k) + bias).AsUInt16(), (Vector256.Create(x, p * depth + k + 16) + bias).AsUInt16()).CopyTo(bytes, p * ldx + k);
                for (; k < depth; k++) bytes[p * ldx + k] = (byte)(x[p * depth + k] + offset);
            }
            return;
        }
        for (int p = start; p < start + count; p++)
        {
            if (bytes is not null)
                for (int k = 0; k < depth; k++) bytes[p * ldx + k] = (byte)(Level(x, p * depth + k) + offset);
            else
                for (int k = 0; k < depth; k++) shorts![p * ldx + k] = Level(x, p * depth + k);
        }
    }

    /// <summary>The input level at row element <paramref name="i"/>: through the gather map, 0 where it pads (branch-free: padding is common at the borders).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private short Level(short[] x, int i)
    {
        if (gather is null) return x[i];
        int src = gather[i], inside = ~(src >> 31); // all ones for a real index, 0 for the −1 of padding
        return (short)(x[src & inside] & inside);
    }
}
