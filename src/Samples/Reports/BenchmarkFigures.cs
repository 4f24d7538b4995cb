using System.Text;
using System.Text.Json;
using Microsoft.ML.Quantization.Search;

namespace Microsoft.ML.Quantization.Samples.Reports;

/// <summary>
/// Figures of the benchmark outputs: accuracy against average bits for every configuration of the automatic
/// quantization benchmarks, model size against latency for every row of the scoring benchmark, and the search
/// histories of the auto W2A2 rows (the default search, with the entropy term, and without the curvature gap). Reads the JSON the Benchmarks project writes.
/// </summary>
internal static class BenchmarkFigures
{
    private sealed record AutoRow(string Configuration, double TestAccuracy, double? AverageWeightBits, double? AverageActivationBits);

    private sealed record ScoringRow(string Model, string Configuration, IReadOnlyList<Spread> Latency, long ModelBytes)
    {
        /// <summary>The faster of the 1- and 2-thread batch-1 medians.</summary>
        public double LatencyMs => Latency.Min(l => l.Median);
    }

    private sealed record Spread(double Median);

    private sealed record ScoringFile(IReadOnlyList<ScoringRow> Models);

    private sealed record History(IReadOnlyList<SchemeProbabilities> SchemeHistory, IReadOnlyList<LearnedBits> BitHistory);

    /// <summary>Writes the PNGs and figures.md into <paramref name="directory"/>; returns figures.md's path.</summary>
    public static string Write(string directory)
    {
        var figures = new List<(string File, string Caption)>();
        var points = new List<LabeledPoint>();
        var fp32 = new Dictionary<string, double>();
        foreach (var (stem, series) in new[] { ("auto-image", "VggSmall, Fashion-MNIST"), ("auto-text", "TextLstm, SpamAssassin") })
        {
            string path = Path.Combine(directory, stem + ".json");
            if (!File.Exists(path)) continue;
            foreach (var row in Read<List<AutoRow>>(path))
            {
                if (row.AverageWeightBits is { } bits) points.Add(new LabeledPoint(series, row.Configuration, bits, 100 * row.TestAccuracy));
                else fp32[series] = 100 * row.TestAccuracy;
            }
            // The table's own recipe, and beside it the search with the entropy term (SchemeSearchOptions.EntropyWeight 0.03)
            // and without the curvature gap (CurvatureWeight 0).
            foreach (var (row, file, caption) in new[]
            {
                ("", "", ""), ("withentropyweight003", "-entropy", " with entropy weight 0.03"), ("withcurvatureweight0", "-no-curvature", " with curvature weight 0"),
            })
            {
                string history = Path.Combine(directory, $"{stem}-autoW2A2layerwise{row}-history.json");
                if (!File.Exists(history)) continue;
                var h = Read<History>(history);
                Charts.SchemeProbabilities(h.SchemeHistory, Path.Combine(directory, $"{stem}-scheme-probabilities{file}.png"));
                Charts.LearnedBits(h.BitHistory, Path.Combine(directory, $"{stem}-learned-bits{file}.png"));
                figures.Add(($"{stem}-scheme-probabilities{file}.png", $"{series}: scheme probabilities per vertex, auto W2A2 layer-wise{caption}"));
                figures.Add(($"{stem}-learned-bits{file}.png", $"{series}: learned bits per vertex over the QPL epochs, auto W2A2 layer-wise{caption}"));
            }
        }
        if (points.Count > 0)
        {
            Charts.AccuracyVersusBits(points, fp32, Path.Combine(directory, "accuracy-vs-bits.png"));
            figures.Insert(0, ("accuracy-vs-bits.png", "Test accuracy against average weight bits, every configuration of auto-image and auto-text (dashed: FP32)"));
        }
        string scoring = Path.Combine(directory, "scoring.json");
        if (File.Exists(scoring))
        {
            var rows = Read<ScoringFile>(scoring).Models;
            Charts.SizeVersusLatency(rows.Select(r => new LabeledPoint(r.Model, r.Configuration.Replace("packed ", ""), r.LatencyMs, r.ModelBytes / 1024.0)).ToList(), Path.Combine(directory, "size-vs-latency.png"));
            figures.Insert(Math.Min(1, figures.Count), ("size-vs-latency.png", "Model file size against batch-1 latency, every row of the scoring benchmark"));
        }
        if (figures.Count == 0) throw new InvalidDataException($"No benchmark JSON in '{directory}'.");
        var md = new StringBuilder("# Benchmark figures\n\nDrawn by `dotnet run --project src/Samples/Reports -c Release -- benchmarks` from the JSON beside them.\n\n");
        foreach (var (file, caption) in figures) md.Append($"![{caption}]({file})\n\n*{caption}*\n\n");
        string output = Path.Combine(directory, "figures.md");
        File.WriteAllText(output, md.ToString());
        return output;
    }

    private static T Read<T>(string path) =>
        JsonSerializer.Deserialize<T>(File.ReadAllText(path), SampleReport.Json) ?? throw new InvalidDataException($"'{path}' is empty.");
}
