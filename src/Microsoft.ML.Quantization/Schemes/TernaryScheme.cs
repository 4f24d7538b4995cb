using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Schemes;

/// <summary>Ternary, 2 bits with three levels (<see cref="QuantizationScheme.Ternary"/>).</summary>
/// <remarks>
/// Ternary Weight Networks (Li et al. 2016, Eq. 9–10), AutoQNN §3.1: threshold Δ = 0.7·mean|x| (TWN's
/// approximation of the optimal threshold for normal and uniform data); α = mean of |x| over |x| &gt; Δ;
/// Q(x) = α·sign(x) where |x| &gt; Δ, else 0. Levels {-1, 0, 1}·α, thresholds ±Δ/α. No clip.
/// </remarks>
internal sealed class TernaryScheme : SchemeMath
{
    public static readonly TernaryScheme Instance = new();

    /// <summary>TWN's threshold factor.</summary>
    public const double ThresholdFactor = 0.7;

    public override QuantizationScheme Kind => QuantizationScheme.Ternary;
    public override int MinBits => 2;
    public override int MaxBits => 2;

    protected override GridTensors Fit(Tensor x, int bits)
    {
        var magnitude = x.abs();
        var delta = magnitude.mean([1], keepdim: true).Times(ThresholdFactor);
        var above = (magnitude > delta).to(float64);
        var alpha = ((magnitude * above).sum([1], keepdim: true) / above.sum([1], keepdim: true).ClampMin(1)).ClampMin(1e-30);
        var ratio = delta / alpha;
        return new GridTensors(bits, alpha, Rows(x, -1, 0, 1), cat([-ratio, ratio], 1));
    }
}
