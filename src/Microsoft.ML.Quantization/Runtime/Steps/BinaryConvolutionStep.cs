using System.Numerics;
using System.Runtime.Intrinsics;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Kernels;
using Microsoft.ML.Quantization.Serialization;

namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>
/// A W1A1 convolution by XOR and popcount (<see cref="BinaryGemm"/>): ±m weights (Binary) and activations whose
/// integers lie in {−1, 0, +1} (binary, or unsigned 1-bit, with the zero border as 0). The padded HWC bytes of its
/// input become two bit planes per pixel (sign and nonzero, 64 channels a word), which the kernel reads in place
/// like <see cref="DirectConvolutionStep"/> reads bytes. Σ w·a = m·(active − 2·mismatches) is exact; the epilogue
/// applies the same scales, bias and folded BatchNorm.
/// </summary>
internal sealed class BinaryConvolutionStep : ScoringStep
{
    private readonly ValueSlot input;
    private readonly BinaryWeights weights;
    private readonly int[] taps, starts;
    private readonly int offset;
    private readonly float[] mul, add;
    private readonly ActivationEpilogue? epilogue;

    private BinaryConvolutionStep(string name, ValueSlot input, ValueSlot output, BinaryWeights weights, int kernel, int stride, float[] mul, float[] add, FusedActivation? fused)
        : base(name, fused?.Target ?? output)
    {
        this.input = input;
        this.weights = weights;
        this.mul = mul;
        this.add = add;
        offset = -input.Codec!.MinInteger;
        taps = WindowOffsets.Taps(kernel, input.PaddedWidth, weights.WordsPerTap);
        starts = WindowOffsets.Starts(output.Shape[1], output.Shape[2], stride, input.PaddedWidth, weights.WordsPerTap);
        if (fused is not null) epilogue = new ActivationEpilogue(null, mul, add, fused.Relu, fused.Pool, output.Shape[2], fused.Height, fused.Width, fused.Target, fused.Residual, fused.Floats);
    }

    public override string Kernel => "xor-popcount (1-bit)";

    public override long WeightBytes => weights.Data.Length * 8L;

    /// <summary>Whether the weights are ±m and the input codec's integers lie in {−1, 0, +1}.</summary>
    public static bool Fits(ExportedTensor weight, ActivationCodec codec) =>
        codec.Integers is { } integers && integers.All(i => i is >= -1 and <= 1) && Magnitude(weight) is not null;

    /// <summary>
    /// The step for <paramref name="node"/>, whose input slot is padded HWC bytes (see <see cref="Fits"/>), writing the float map
    /// <paramref name="output"/> or, with <paramref name="fused"/>, the codes of the quantizer that follows (rows shared by threads).
    /// </summary>
    public static BinaryConvolutionStep Create(GraphNode node, ExportedTensor weight, ActivationCodec codec, ValueSlot input, ValueSlot output, float[] scale, float[] shift,
        FusedActivation? fused = null)
    {
        if (!Fits(weight, codec) || input.Layout != SlotLayout.PaddedBytes || input.Padding != node.Padding)
            throw new ArgumentException("The convolution does not fit the binary kernel.", nameof(weight));
        var q = weight.Quantized!;
        var (_, shared, multiplier) = DenseProduct.IntegerForm(q)!.Value;
        var table = shared!; // {−m, +m} (Fits)
        int outputs = node.Units, channels = input.Shape[0], tapCount = node.Kernel * node.Kernel;
        var positive = new bool[outputs * tapCount * channels];
        for (int o = 0; o < outputs; o++)
            for (int c = 0; c < channels; c++)
                for (int t = 0; t < tapCount; t++) positive[(o * tapCount + t) * channels + c] = table[q.Codes[(o * channels + c) * tapCount + t]] > 0;
        int groups = q.Grid.GroupCount, magnitude = Math.Abs(table[0]);
        var mul = new float[outputs];
        for (int o = 0; o < outputs; o++) mul[o] = q.Grid.Scales[o * groups / outputs] * magnitude / multiplier * codec.Unit * scale[o];
        return new BinaryConvolutionStep(node.Name, input, output, BinaryWeights.FromSigns(positive, outputs, tapCount, channels), node.Kernel, node.Stride, mul, shift, fused);
    }

    /// <summary>m when all channels share the integer table {−m, +m}; else null.</summary>
    private static int? Magnitude(ExportedTensor weight) =>
        weight.Quantized is { } q && DenseProduct.IntegerForm(q) is var (_, shared, _) && shared is [var low, var high] && low == -high && high != 0
            ? Math.Abs(high) : null;

    public override void Run(Workspace ws)
    {
        int perPixel = weights.WordsPerTap, pixels = input.PaddedHeight * input.PaddedWidth, positions = starts.Length, ldc = weights.PaddedOutputs;
        var planes = ws.WordArray(2 * pixels * perPixel);
        var sign = planes.AsMemory(0, pixels * perPixel);
        var nonzero = planes.AsMemory(pixels * perPixel, pixels * perPixel);
        ToPlanes(ws.Bytes(input), input.Shape[0], input.PaddedChannels, pixels, perPixel, sign.Span, nonzero.Span);
        var acc = ws.AlignedInts(positions * ldc);
        // Σ w·a = active − 2·mismatches for positions [first, first + count), into acc.
        void Products(int first, int count)
        {
            BinaryGemm.Multiply(weights, sign.Span, nonzero.Span, taps, starts.AsSpan(first, count), acc.AsSpan(first * ldc, count * ldc), ldc);
            var nz = nonzero.Span;
            for (int p = first; p < first + count; p++)
            {
                int active = 0;
                foreach (int t in taps)
                    for (int j = 0; j < perPixel; j++) active += BitOperations.PopCount(nz[starts[p] + t + j]);
                for (int o = 0; o < weights.Outputs; o++) acc[p * ldc + o] = active - 2 * acc[p * ldc + o];
            }
        }
        if (epilogue is not null)
        {
            epilogue.RunByRows(ws, acc, ldc, (long)epilogue.PositionsRead * weights.Outputs * weights.Words * 64, Products);
            return;
        }
        var y = ws.Floats(Output);
        ws.Split(positions, (long)positions * weights.Outputs * weights.Words * 64, (first, count) =>
        {
            Products(first, count);
            DenseProduct.WriteOutputs(acc, ldc, first, count, null, mul, add, y, positions);
        });
    }

    /// <summary>Per pixel and 64-channel word: bit c set in sign where a_c = +1, in nonzero where a_c ≠ 0 (a = byte − offset).</summary>
    private void ToPlanes(byte[] x, int channels, int paddedChannels, int pixels, int perPixel, Span<ulong> sign, Span<ulong> nonzero)
    {
        var zero = Vector512.Create((byte)offset);
        for (int px = 0; px < pixels; px++)
            for (int j = 0; j < perPixel; j++)
            {
                int first = px * paddedChannels + 64 * j, count = Math.Min(64, channels - 64 * j);
                ulong mask = count == 64 ? ulong.MaxValue : (1UL << count) - 1, s = 0, n = 0;
                if (first + 64 <= x.Length)
                {
                    var bytes = Vector512.LoadUnsafe(ref x[first]);
                    s = Vector512.GreaterThan(bytes, zero).ExtractMostSignificantBits();
                    n = ~Vector512.Equals(bytes, zero).ExtractMostSignificantBits();
                }
                else
                {
                    for (int c = 0; c < count; c++)
                    {
                        s |= (ulong)(x[first + c] > offset ? 1 : 0) << c;
                        n |= (ulong)(x[first + c] != offset ? 1 : 0) << c;
                    }
                }
                sign[px * perPixel + j] = s & mask;
                nonzero[px * perPixel + j] = n & mask;
            }
    }
}
