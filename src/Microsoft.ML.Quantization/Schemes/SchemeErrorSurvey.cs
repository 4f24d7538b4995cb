using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Schemes;

/// <summary>The distributions of the quantization-error survey (AutoQNN Fig. 2).</summary>
internal enum SurveyDistribution { Normal, Uniform, Laplace, LogNormal }

/// <summary>
/// Quantization error of every scheme on synthetic distributions, as in AutoQNN Fig. 2: relative MSE
/// (MSE / E[x²]) of per-tensor quantization. Used by the scheme tests and the benchmark report.
/// </summary>
internal static class SchemeErrorSurvey
{
    /// <summary>One cell of the survey.</summary>
    public sealed record Cell(QuantizationScheme Scheme, int Bits, SurveyDistribution Distribution, double RelativeMse);

    /// <summary>Deterministic samples: N(0,1), U(−1,1), Laplace(0,1) or exp(N(0,1)).</summary>
    public static float[] Draw(SurveyDistribution distribution, int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = distribution switch
            {
                SurveyDistribution.Normal => (float)Gaussian(random),
                SurveyDistribution.Uniform => (float)(random.NextDouble() * 2 - 1),
                SurveyDistribution.Laplace => (float)Laplace(random),
                SurveyDistribution.LogNormal => (float)Math.Exp(Gaussian(random)),
                _ => throw new ArgumentOutOfRangeException(nameof(distribution)),
            };
        }
        return values;
    }

    /// <summary>MSE of quantizing <paramref name="values"/> per tensor.</summary>
    public static double Mse(QuantizationScheme scheme, int bits, float[] values)
    {
        using var scope = NewDisposeScope();
        float[] quantized = SchemeMath.For(scheme).Quantize(tensor(values), bits).data<float>().ToArray();
        double sum = 0;
        for (int i = 0; i < values.Length; i++) sum += Math.Pow(values[i] - (double)quantized[i], 2);
        return sum / values.Length;
    }

    /// <summary>Every scheme at <paramref name="bits"/> (clamped to its range) on every distribution.</summary>
    public static IReadOnlyList<Cell> Run(int bits, int sampleCount, int seed)
    {
        var cells = new List<Cell>();
        foreach (SurveyDistribution distribution in Enum.GetValues<SurveyDistribution>())
        {
            float[] values = Draw(distribution, sampleCount, seed);
            double energy = values.Average(v => (double)v * v);
            foreach (QuantizationScheme scheme in Enum.GetValues<QuantizationScheme>())
            {
                var quantizer = SchemeMath.For(scheme);
                int b = Math.Clamp(bits, quantizer.MinBits, quantizer.MaxBits);
                cells.Add(new Cell(scheme, b, distribution, Mse(scheme, b, values) / energy));
            }
        }
        return cells;
    }

    /// <summary>The survey as a Markdown table with one ranking line per distribution.</summary>
    public static string ToMarkdown(IReadOnlyList<Cell> cells)
    {
        var distributions = Enum.GetValues<SurveyDistribution>();
        var lines = new List<string>
        {
            "| scheme-bits | " + string.Join(" | ", distributions) + " |",
            "|---|" + string.Concat(distributions.Select(_ => "---:|")),
        };
        foreach (var group in cells.GroupBy(c => (c.Scheme, c.Bits)))
        {
            lines.Add($"| {group.Key.Scheme}-{group.Key.Bits} | " +
                string.Join(" | ", distributions.Select(d => group.Single(c => c.Distribution == d).RelativeMse.ToString("F5", System.Globalization.CultureInfo.InvariantCulture))) + " |");
        }
        lines.Add("");
        foreach (var distribution in distributions)
        {
            lines.Add($"- {distribution}: " + string.Join(" < ", cells.Where(c => c.Distribution == distribution).OrderBy(c => c.RelativeMse).Select(c => c.Scheme)));
        }
        return string.Join("\n", lines) + "\n";
    }

    private static double Gaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private static double Laplace(Random random)
    {
        double u = random.NextDouble() - 0.5;
        return -Math.Sign(u) * Math.Log(1 - 2 * Math.Abs(u));
    }
}
