using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Schemes;

/// <summary>Binary, 1 bit (<see cref="QuantizationScheme.Binary"/>).</summary>
/// <remarks>
/// XNOR-Net (Rastegari et al. 2016, Eq. 4), AutoQNN §3.1: Q(x) = sign(x)·α with α = mean|x|, the
/// L2-optimal scale for sign codes. sign(0) = +1. Levels {-1, +1}, threshold 0. No clip: the gradient
/// passes straight through everywhere.
/// </remarks>
internal sealed class BinaryScheme : SchemeMath
{
    public static readonly BinaryScheme Instance = new();

    public override QuantizationScheme Kind => QuantizationScheme.Binary;
    public override int MinBits => 1;
    public override int MaxBits => 1;

    protected override GridTensors Fit(Tensor x, int bits) =>
        new(bits, x.abs().mean([1]), Rows(x, -1, 1), Rows(x, 0));
}
