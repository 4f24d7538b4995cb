using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Schemes;

/// <summary>Residual binarisation, 2–8 bits (<see cref="QuantizationScheme.ResQ"/>).</summary>
/// <remarks>
/// AutoQNN §3.1 (residual quantization as in ReBNet / ABC-Net): r_0 = x; for i = 1..b,
/// α_i = mean|r_{i−1}| and r_i = r_{i−1} − α_i·sign(r_{i−1}). The levels are all 2^b sums Σ ±α_i;
/// bit (b−i) of a code is 1 where the i-th term is +α_i, so a scoring kernel can evaluate a dot product
/// as Σ_i α_i·(binary dot product of bit plane i). Encoding picks the nearest level (never worse than the
/// greedy residual signs). Scale α_1, no clip.
/// </remarks>
internal sealed class ResQScheme : SchemeMath
{
    public static readonly ResQScheme Instance = new();

    public override QuantizationScheme Kind => QuantizationScheme.ResQ;
    public override int MinBits => 2;
    public override int MaxBits => 8;

    protected override GridTensors Fit(Tensor x, int bits)
    {
        var residual = x;
        var alphas = new List<Tensor>();
        for (int i = 0; i < bits; i++)
        {
            var alpha = residual.abs().mean([1], keepdim: true);
            alphas.Add(alpha);
            residual = residual - alpha * where(residual.AtLeast(0), 1.0, -1.0);
        }
        var alpha1 = alphas[0].ClampMin(1e-30);
        // levels[g, code] = Σ_i sign_i(code)·α_i / α_1, sign_i(code) = +1 where bit (b−1−i) is set.
        var signs = new double[bits, 1 << bits];
        for (int i = 0; i < bits; i++)
            for (int code = 0; code < 1 << bits; code++)
                signs[i, code] = ((code >> (bits - 1 - i)) & 1) == 1 ? 1 : -1;
        var levels = cat(alphas, 1).matmul(tensor(signs, float64, x.device)) / alpha1;
        var (sorted, order) = levels.sort(1);
        var thresholds = sorted[.., 1..].Plus(sorted[.., ..^1]).Over(2);
        return new GridTensors(bits, alpha1, levels, thresholds, order);
    }
}
