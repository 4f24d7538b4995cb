using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Schemes;

/// <summary>Uniform min–max, 2–8 bits (<see cref="QuantizationScheme.ZoomQ"/>).</summary>
/// <remarks>
/// AutoQNN §3.1: the range [min x, max x], widened to hold 0, is zoomed onto 2^b uniform levels:
/// s = (max − min)/(2^b − 1), integer zero point z = round(−min/s), code k stands for (k − z)·s, rounding
/// to nearest and clipping at the end levels (<see cref="GridTensors.MinMax"/>).
/// </remarks>
internal sealed class ZoomQScheme : SchemeMath
{
    public static readonly ZoomQScheme Instance = new();

    public override QuantizationScheme Kind => QuantizationScheme.ZoomQ;
    public override int MinBits => 2;
    public override int MaxBits => 8;

    protected override GridTensors Fit(Tensor x, int bits) => GridTensors.MinMax(bits, x.amin([1]), x.amax([1]));
}
