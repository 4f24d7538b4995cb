using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Schemes;

/// <summary>Clipped uniform, 1–8 bits (<see cref="QuantizationScheme.ClipQ"/>).</summary>
/// <remarks>
/// AutoQNN §3.1 (clipping as in ACIQ, Banner et al. 2019): clip at ±c_b·σ, σ the root mean square of x,
/// and split [−c_b·σ, c_b·σ] into 2^b equal bins reconstructed at their centres: step Δ = 2c_bσ/2^b,
/// code k stands for (k − (2^b − 1)/2)·Δ. The gradient is zero where |x| &gt; c_b·σ. c_b
/// (<see cref="ClipFactors"/>) minimises the expected MSE of this quantizer on N(0,1).
/// A group with no negative value (a ReLU's output) gets ACIQ's one-sided grid instead: code k stands for
/// k·Δ, Δ = d_b·σ (<see cref="OneSidedSteps"/>, MSE-optimal on ReLU(N(0,1))), so 0 is a level and all
/// 2^b codes fall where the values are; the zero-centred grid would spend half its codes on negatives and
/// at 1 bit give every value the same code. The gradient is zero above (2^b − ½)·Δ. Both tables are
/// recomputed and checked by <c>OptimalClipConstantsTests</c> in the test suite.
/// </remarks>
internal sealed class ClipQScheme : SchemeMath
{
    public static readonly ClipQScheme Instance = new();

    /// <summary>c_b for b = 1..8 (index b − 1).</summary>
    public static readonly double[] ClipFactors = { 1.5958, 1.9914, 2.3441, 2.6816, 3.0102, 3.3300, 3.6395, 3.9376 };

    /// <summary>d_b, the one-sided step per root mean square, for b = 1..8 (index b − 1).</summary>
    public static readonly double[] OneSidedSteps = { 1.73101, 0.92033, 0.49980, 0.27329, 0.14918, 0.08098, 0.04366, 0.02337 };

    public override QuantizationScheme Kind => QuantizationScheme.ClipQ;
    public override int MinBits => 1;
    public override int MaxBits => 8;

    protected override GridTensors Fit(Tensor x, int bits)
    {
        int levels = 1 << bits;
        var rms = RootMeanSquare(x);
        var oneSided = x.amin([1]).AtLeast(0);
        var step = where(oneSided, rms.Times(OneSidedSteps[bits - 1]), rms.Times(2 * ClipFactors[bits - 1] / levels));
        var first = where(oneSided, zeros_like(rms), ScalarOperands.FullLike(rms, -(levels - 1) / 2.0));
        return GridTensors.Uniform(bits, step, first, levels, clipMargin: 0.5);
    }
}
