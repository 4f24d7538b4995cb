using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Schemes;

/// <summary>Fixed point, 2–8 bits (<see cref="QuantizationScheme.FixedQ"/>).</summary>
/// <remarks>
/// AutoQNN §3.1 (fixed-point quantization as in Gupta et al. 2015): the integer part's exponent comes
/// from the maximum, e = ⌈log2 max|x|⌉, and the top b bits of a signed b-bit word are kept, so the step
/// is 2^(e−b+1) and codes k ∈ [−2^(b−1), 2^(b−1)−1] stand for k·2^(e−b+1). Rounding to nearest, clipped
/// at the end levels (only values within one step of 2^e saturate). The scale is a power of two, so
/// integer kernels can apply it as a shift.
/// </remarks>
internal sealed class FixedQScheme : SchemeMath
{
    public static readonly FixedQScheme Instance = new();

    public override QuantizationScheme Kind => QuantizationScheme.FixedQ;
    public override int MinBits => 2;
    public override int MaxBits => 8;

    protected override GridTensors Fit(Tensor x, int bits)
    {
        var exponent = x.abs().amax([1]).ClampMin(1e-30).log2().ceil();
        var step = pow(2.0, exponent.Minus(bits - 1.0));
        int half = 1 << (bits - 1);
        return GridTensors.Uniform(bits, step, ScalarOperands.Full(x.shape[0], -half, float64, x.device), 2 * half);
    }
}
