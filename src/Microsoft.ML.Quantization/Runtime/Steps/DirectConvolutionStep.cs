using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Kernels;
using Microsoft.ML.Quantization.Serialization;

namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>
/// A low-bit convolution without im2col: its input arrives as padded HWC bytes (<see cref="SlotLayout.PaddedBytes"/>),
/// so the k·k taps of each output pixel are contiguous channel runs at fixed offsets, and <see cref="Int8Gemm"/>
/// reads them in place. The weights are reordered to (tap, channel) depth order with
/// channels padded to 4. Exact in integers like the im2col path; the epilogue applies the same scales, bias and
/// folded BatchNorm. With a <see cref="FusedActivation"/>, the epilogue goes on through ReLU, max pool and the next
/// quantizer (<see cref="ActivationEpilogue"/>) and threads share the layer by rows of the map or by output blocks. A float
/// output is CHW, or <see cref="SlotLayout.ChannelsLast"/> where only a later epilogue's residual add reads it.
/// </summary>
internal sealed class DirectConvolutionStep : ScoringStep
{
    private readonly ValueSlot input;
    private readonly Int8Weights weights;
    private readonly int[] taps, starts, correction;
    private readonly int maxActivation;
    private readonly float[] mul, add;
    private readonly ActivationEpilogue? epilogue;

    private DirectConvolutionStep(string name, ValueSlot input, ValueSlot output, Int8Weights weights, int[] taps, int[] correction, float[] mul, float[] add, int stride, FusedActivation? fused)
        : base(name, fused?.Target ?? output)
    {
        this.input = input;
        this.weights = weights;
        this.taps = taps;
        this.correction = correction;
        this.mul = mul;
        this.add = add;
        maxActivation = input.Codec!.MaxInteger - input.Codec.MinInteger;
        starts = WindowOffsets.Starts(output.Shape[1], output.Shape[2], stride, input.PaddedWidth, input.PaddedChannels);
        if (fused is not null) epilogue = new ActivationEpilogue(correction, mul, add, fused.Relu, fused.Pool, output.Shape[2], fused.Height, fused.Width, fused.Target, fused.Residual, fused.Floats);
    }

    public override string Kernel => $"int8 direct ({weights.SlotBits}-bit slots)";

    public override long WeightBytes => weights.Data.Length;

    /// <summary>
    /// Whether weights and input codec fit the int8 kernel: integer levels shared by all channels and exact
    /// products (<see cref="Int8Gemm.IsExact"/>).
    /// </summary>
    public static bool Fits(ExportedTensor weight, ActivationCodec codec) => SharedTable(weight, codec) is not null;

    /// <summary>
    /// The step for <paramref name="node"/>, whose input slot is padded HWC bytes (see <see cref="Fits"/>), writing the float
    /// map <paramref name="output"/> or, with <paramref name="fused"/>, the codes of the quantizer that follows.
    /// </summary>
    public static DirectConvolutionStep Create(GraphNode node, ExportedTensor weight, ActivationCodec codec, ValueSlot input, ValueSlot output, float[] scale, float[] shift,
        FusedActivation? fused = null)
    {
        if (SharedTable(weight, codec) is not var (shared, multiplier) || input.Layout != SlotLayout.PaddedBytes || input.Padding != node.Padding)
            throw new ArgumentException("The convolution does not fit the direct int8 kernel.", nameof(weight));
        var q = weight.Quantized!;
        int offset = -codec.MinInteger;
        int outputs = node.Units, channels = input.Shape[0], c4 = input.PaddedChannels, k = node.Kernel, tapCount = k * k;
        var codes = new byte[outputs * tapCount * c4];
        var correction = new int[outputs];
        // Padded channels read byte 0, so any code will do there; the correction covers the real weights only.
        for (int o = 0; o < outputs; o++)
            for (int c = 0; c < channels; c++)
                for (int t = 0; t < tapCount; t++)
                {
                    byte code = q.Codes[(o * channels + c) * tapCount + t];
                    codes[(o * tapCount + t) * c4 + c] = code;
                    correction[o] += shared[code] * offset;
                }
        var weights = Int8Weights.FromCodes(codes, shared, outputs, tapCount * c4);
        var taps = WindowOffsets.Taps(k, input.PaddedWidth, c4);
        var mul = new float[outputs];
        int groups = q.Grid.GroupCount;
        for (int o = 0; o < outputs; o++) mul[o] = q.Grid.Scales[o * groups / outputs] / multiplier * codec.Unit * scale[o];
        return new DirectConvolutionStep(node.Name, input, output, weights, taps, correction, mul, shift, node.Stride, fused);
    }

    /// <summary>The integer level table all channels share and its multiplier, when the int8 kernel is exact for it; else null.</summary>
    private static (int[] Shared, int Multiplier)? SharedTable(ExportedTensor weight, ActivationCodec codec)
    {
        if (weight.Quantized is not { } q || codec.Integers is null) return null;
        if (DenseProduct.IntegerForm(q) is not var (_, shared, multiplier) || shared is null) return null;
        return Int8Gemm.IsExact(codec.MaxInteger - codec.MinInteger, shared.Min(), shared.Max()) ? (shared, multiplier) : null;
    }

    public override void Run(Workspace ws)
    {
        int ldc = weights.PaddedOutputs, positions = starts.Length;
        var acc = ws.AlignedInts(positions * ldc);
        var x = ws.Bytes(input);
        if (epilogue is not null)
        {
            int read = epilogue.PositionsRead, blocks = ldc / 16, rows = epilogue.Rows;
            long cost = (long)read * weights.Outputs * weights.Depth;
            // Threads take whole rows of the map where there are enough to balance them (each thread then also writes whole
            // pixels of the target, never half a cache line of one); else whole output blocks while each can still pair two.
            if (rows < 4 * ws.Threads && blocks >= 2 * ws.Threads)
            {
                epilogue.Begin(ws);
                ws.Split(blocks, cost, (first, count) =>
                {
                    Int8Gemm.Multiply(weights, x, taps, starts.AsSpan(0, read), acc, ldc, maxActivation, first, count);
                    epilogue.Write(acc, ldc, first, count, 0, rows, ws);
                });
                return;
            }
            epilogue.RunByRows(ws, acc, ldc, cost, (start, count) =>
                Int8Gemm.Multiply(weights, x, taps, starts.AsSpan(start, count), acc.AsSpan(start * ldc), ldc, maxActivation, 0, blocks));
            return;
        }
        var y = ws.Floats(Output);
        bool channelsLast = Output.Layout == SlotLayout.ChannelsLast;
        ws.Split(positions, (long)positions * weights.Outputs * weights.Depth, (first, count) =>
        {
            Int8Gemm.Multiply(weights, x, taps, starts.AsSpan(first, count), acc.AsSpan(first * ldc, count * ldc), ldc, maxActivation);
            DenseProduct.WriteOutputs(acc, ldc, first, count, correction, mul, add, y, channelsLast ? weights.Outputs : positions, positionMajor: channelsLast);
        });
    }
}
