using Microsoft.ML.Quantization.Graph;
namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>Max, average (padding counted as zeros, as torch's default) or global average pooling over [C,H,W].</summary>
internal sealed class PoolingStep : ScoringStep
{
    private readonly ValueSlot input;
    private readonly NodeKind kind;
    private readonly int kernel, stride, padding;

    public PoolingStep(string name, NodeKind kind, ValueSlot input, ValueSlot output, int kernel, int stride, int padding) : base(name, output)
    {
        this.input = input;
        this.kind = kind;
        this.kernel = kernel;
        this.stride = stride;
        this.padding = padding;
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
        for (int c = 0; c < channels; c++)
            for (int oy = 0; oy < outHeight; oy++)
                for (int ox = 0; ox < outWidth; ox++)
                {
                    float best = float.NegativeInfinity, sum = 0;
                    for (int ky = 0; ky < kernel; ky++)
                        for (int kx = 0; kx < kernel; kx++)
                        {
                            int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                            if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
                            float v = x[(c * height + iy) * width + ix];
                            best = Math.Max(best, v);
                            sum += v;
                        }
                    y[(c * outHeight + oy) * outWidth + ox] = kind == NodeKind.MaxPool ? best : sum / (kernel * kernel);
                }
    }
}
