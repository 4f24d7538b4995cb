using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Schemes;

/// <summary>Powers of two, 2–4 bits (<see cref="QuantizationScheme.PotQ"/>).</summary>
/// <remarks>
/// AutoQNN §3.1 (power-of-two levels as in INQ / LogQuant): levels 0 and ±2^−k·s for
/// k = 0..2^(b−1)−2, i.e. 2^b − 1 levels; nearest-level rounding in the linear domain, clipped at ±s.
/// The scale s is fitted to the data: among the candidates max|x|·2^(−j/8), j = 0..<see cref="ScaleCandidates"/>−1,
/// the one with the smallest quantization MSE (a heavy tail otherwise pushes every level out of the bulk),
/// searched coarse to fine.
/// Multiplying by a level is a shift, which the scoring kernels exploit.
/// </remarks>
internal sealed class PotQScheme : SchemeMath
{
    public static readonly PotQScheme Instance = new();

    /// <summary>How many scales the MSE search tries, each 2^(1/8) below the last (four octaves).</summary>
    public const int ScaleCandidates = 32;

    /// <summary>Spacing of the first, coarse pass over the candidates.</summary>
    private const int CoarseStride = 4;

    public override QuantizationScheme Kind => QuantizationScheme.PotQ;
    public override int MinBits => 2;
    public override int MaxBits => 4;

    protected override GridTensors Fit(Tensor x, int bits)
    {
        int magnitudes = (1 << (bits - 1)) - 1;
        var positive = Enumerable.Range(0, magnitudes).Select(k => Math.Pow(2, -k)).Reverse().ToArray();
        double[] levels = positive.Select(v => -v).Reverse().Append(0).Concat(positive).ToArray();
        double[] thresholds = levels.Zip(levels.Skip(1), (a, b) => (a + b) / 2).ToArray();

        var maximum = x.abs().amax([1]).ClampMin(1e-30);
        var single = x.to(float32);
        long groups = x.shape[0], count = x.shape[1];
        // The quantization MSE of candidate steps j [G,J], all J in one pass over x stacked J times per group.
        Tensor Errors(Tensor j)
        {
            long candidates = j.shape[1], stackedGroups = groups * candidates;
            var scales = (maximum.unsqueeze(1) * pow(2.0, j.Over(-8.0))).reshape(-1);
            var stackedLevels = Rows(scales.unsqueeze(1), levels);
            using var candidate = new GridTensors(bits, scales, stackedLevels, Rows(stackedLevels, thresholds),
                clipLow: ScalarOperands.Full(stackedGroups, -1, float64, x.device), clipHigh: ScalarOperands.Full(stackedGroups, 1, float64, x.device));
            var stacked = single.unsqueeze(1).expand(groups, candidates, count).reshape(stackedGroups, count);
            var exact = x.unsqueeze(1).expand(groups, candidates, count).reshape(stackedGroups, count);
            return (candidate.Decode(candidate.Encode(stacked)).to(float64) - exact).Squared().mean([1]).reshape(groups, candidates);
        }
        // Steps j = 0, 4, …, 28 first, then the neighbours j ± 1..3 of each group's best: 14 fits instead of
        // 32, the same choice wherever the error is unimodal in j (it is for bell-shaped data). argmin takes the
        // first of equal errors, so ties go to the candidate tried first, the coarse best before its neighbours.
        var coarseSteps = ScalarOperands.Range(0, ScaleCandidates, CoarseStride, float64, x.device).unsqueeze(0).expand(groups, -1);
        var coarseErrors = Errors(coarseSteps);
        var coarse = coarseSteps.gather(1, coarseErrors.argmin(1, keepdim: true));
        var offsets = tensor(Enumerable.Range(1, CoarseStride - 1).SelectMany(d => new double[] { -d, d }).ToArray(), float64, x.device).unsqueeze(0);
        var neighbours = coarse.Plus(offsets).Clamp(0, ScaleCandidates - 1);
        var steps = cat(new[] { coarse, neighbours }, 1);
        var errors = cat(new[] { coarseErrors.amin([1], keepdim: true), Errors(neighbours) }, 1);
        var bestStep = steps.gather(1, errors.argmin(1, keepdim: true)).squeeze(1);
        var bestScale = maximum * pow(2.0, bestStep.Over(-8.0));
        return new GridTensors(bits, bestScale, Rows(x, levels), Rows(x, thresholds),
            clipLow: ScalarOperands.Full(x.shape[0], -1, float64, x.device), clipHigh: ScalarOperands.Full(x.shape[0], 1, float64, x.device));
    }
}
