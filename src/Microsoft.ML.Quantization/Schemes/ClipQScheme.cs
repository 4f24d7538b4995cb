using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Schemes;

/// <summary>Clipped uniform, 2–8 bits (<see cref="QuantizationScheme.ClipQ"/>).</summary>
/// <remarks>
/// AutoQNN §3.1 (clipping as in ACIQ, Banner et al. 2019): clip at ±c_b·σ, σ the root mean square of x,
/// and split [−c_b·σ, c_b·σ] into 2^b equal bins reconstructed at their centres: step Δ = 2c_bσ/2^b,
/// code k stands for (k − (2^b − 1)/2)·Δ. The gradient is zero where |x| &gt; c_b·σ. c_b
/// (<see cref="ClipFactors"/>) minimises the expected MSE of this quantizer on N(0,1); the table is
/// recomputed and checked by <c>OptimalClipConstantsTests</c> in the test suite.
/// </remarks>
internal sealed class ClipQScheme : QuantizerScheme
{
    public static readonly ClipQScheme Instance = new();

    /// <summary>c_b for b = 2..8 (index b − 2).</summary>
    public static readonly double[] ClipFactors = { 1.9914, 2.3441, 2.6816, 3.0102, 3.3300, 3.6395, 3.9376 };

    public override QuantizationScheme Kind => QuantizationScheme.ClipQ;
    public override int MinBits => 2;
    public override int MaxBits => 8;

    protected override GridTensors Fit(Tensor x, int bits)
    {
        int levels = 1 << bits;
        var step = RootMeanSquare(x) * (2 * ClipFactors[bits - 2] / levels);
        return GridTensors.Uniform(bits, step, full(x.shape[0], -(levels - 1) / 2.0, float64, x.device), levels, clipMargin: 0.5);
    }
}
