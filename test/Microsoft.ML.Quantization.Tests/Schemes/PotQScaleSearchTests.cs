using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Schemes;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Schemes;

/// <summary>PotQ's coarse-to-fine scale search, all groups and candidates batched, against trying every candidate.</summary>
public class PotQScaleSearchTests
{
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void EveryGroupGetsTheCandidateScaleOfLeastError(int bits)
    {
        random.manual_seed(bits);
        // Bell-shaped groups of different spreads and tails, fitted per output channel in one call.
        var rows = new[] { randn(1, 700), randn(1, 700).Times(30), randn(1, 700).exp().Minus(1), rand(1, 700).Minus(0.5).sign() * (-rand(1, 700).log()).Times(0.01) };
        var x = cat(rows, 0).to(float64);
        using var grid = PotQScheme.Instance.Fit(x, bits, QuantizationGranularity.PerOutputChannel);
        var values = x.data<double>().ToArray();
        float[] scales = grid.Scales.data<float>().ToArray();
        for (int g = 0; g < rows.Length; g++)
        {
            var group = values.Skip(g * 700).Take(700).ToArray();
            double maximum = group.Max(Math.Abs);
            var errors = Enumerable.Range(0, PotQScheme.ScaleCandidates).Select(j => Error(group, (float)(maximum * Math.Pow(2, -j / 8.0)), bits)).ToArray();
            double j = -8 * Math.Log2(scales[g] / maximum);
            Assert.Equal(Math.Round(j), j, 4); // one of the candidates
            Assert.True(Error(group, scales[g], bits) <= errors.Min() * (1 + 1e-9), $"group {g}: j = {j:F2}, error {Error(group, scales[g], bits)} > best {errors.Min()} at j = {Array.IndexOf(errors, errors.Min())}");
        }
    }

    /// <summary>Mean squared error of PotQ's levels 0, ±2^−k at scale s: nearest level in the linear domain, clipped at ±s.</summary>
    private static double Error(double[] x, float scale, int bits)
    {
        var magnitudes = Enumerable.Range(0, (1 << (bits - 1)) - 1).Select(k => Math.Pow(2, -k)).Append(0).ToArray();
        return x.Average(v =>
        {
            double y = Math.Min(Math.Abs(v) / scale, 1);
            double level = magnitudes.MinBy(m => Math.Abs(m - y));
            return Math.Pow(Math.Sign(v) * level * scale - v, 2);
        });
    }
}
