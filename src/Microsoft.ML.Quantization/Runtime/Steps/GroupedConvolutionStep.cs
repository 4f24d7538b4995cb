using Microsoft.ML.Quantization.Graph;

namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>
/// A grouped (or depthwise) convolution over [C,H,W]: output channel o reads only the input channels of its group.
/// The weights are the decoded levels of a quantized weight (or the floats), so it computes what training computes;
/// the input is floats, or integer activations (value = integer · unit). Output: floats, y = conv·scale + shift per
/// channel (a folded BatchNorm). Depthwise layers do a few multiply-adds per output, so a direct loop serves them.
/// </summary>
internal sealed class GroupedConvolutionStep : ScoringStep
{
    private readonly ValueSlot input;
    private readonly float[] weight, scale, shift;
    private readonly int groups, kernel, stride, padding;

    public GroupedConvolutionStep(GraphNode node, float[] weight, ValueSlot input, ValueSlot output, float[] scale, float[] shift) : base(node.Name, output)
    {
        if (input.Layout is not (SlotLayout.Floats or SlotLayout.Shorts)) throw new NotSupportedException($"'{node.Name}' reads a {input.Layout} slot; a grouped convolution reads floats or integer activations.");
        this.input = input;
        this.weight = weight;
        this.scale = scale;
        this.shift = shift;
        groups = node.Groups;
        kernel = node.Kernel;
        stride = node.Stride;
        padding = node.Padding;
    }

    public override string Kernel => "grouped direct (float)";

    public override long WeightBytes => weight.Length * sizeof(float);

    public override void Run(Workspace ws)
    {
        int channels = input.Shape[0], height = input.Shape[1], width = input.Shape[2];
        int outputs = Output.Shape[0], outHeight = Output.Shape[1], outWidth = Output.Shape[2];
        int perGroupIn = channels / groups, perGroupOut = outputs / groups, taps = kernel * kernel;
        // Integer activations are decoded once per example; float ones are read where they are.
        bool integer = input.Layout == SlotLayout.Shorts;
        Span<float> x = integer ? ws.RowFloats(input.Length) : ws.Floats(input);
        if (integer)
        {
            var codes = ws.Shorts(input);
            float unit = input.Codec!.Unit;
            for (int i = 0; i < x.Length; i++) x[i] = codes[i] * unit;
        }
        var y = ws.Floats(Output);
        for (int o = 0; o < outputs; o++)
        {
            int first = o / perGroupOut * perGroupIn;
            for (int oy = 0; oy < outHeight; oy++)
                for (int ox = 0; ox < outWidth; ox++)
                {
                    float sum = 0;
                    for (int c = 0; c < perGroupIn; c++)
                        for (int ky = 0; ky < kernel; ky++)
                        {
                            int iy = oy * stride - padding + ky;
                            if (iy < 0 || iy >= height) continue;
                            for (int kx = 0; kx < kernel; kx++)
                            {
                                int ix = ox * stride - padding + kx;
                                if (ix < 0 || ix >= width) continue;
                                sum += weight[(o * perGroupIn + c) * taps + ky * kernel + kx] * x[((first + c) * height + iy) * width + ix];
                            }
                        }
                    y[(o * outHeight + oy) * outWidth + ox] = sum * scale[o] + shift[o];
                }
        }
    }
}
