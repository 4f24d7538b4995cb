using System.Globalization;
using System.Text;

namespace Microsoft.ML.Quantization.Samples;

/// <summary>The Markdown report of a sample run, with its charts, written beside model.zip.</summary>
internal static class ModelReport
{
    /// <summary>Writes the PNGs and report.md into <paramref name="directory"/>; returns the report's path.</summary>
    public static string Write(SampleReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        var q = report.Quantization;
        var figures = new List<(string File, string Caption)>();
        void Figure(string file, string caption, Action<string> draw)
        {
            draw(Path.Combine(directory, file));
            figures.Add((file, caption));
        }
        if (q.SchemeHistory.Count > 0) Figure("scheme-probabilities.png", "Scheme probabilities per quantizer vertex (QSS)", p => Charts.SchemeProbabilities(q.SchemeHistory, p));
        if (q.BitHistory.Count > 0) Figure("learned-bits.png", "Learned bitwidth per vertex over the QPL epochs", p => Charts.LearnedBits(q.BitHistory, p));
        Figure("layer-bits.png", "Final scheme and bits per layer", p => Charts.LayerBits(q.Layers, p));
        var fp32 = report.Results.Where(r => r.AverageWeightBits >= 32).ToList();
        var quantized = report.Results.Where(r => r.AverageWeightBits < 32).ToList();
        Figure("accuracy-vs-bits.png", "Test accuracy against average weight bits (dashed: FP32)", p => Charts.AccuracyVersusBits(
            quantized.Select(r => new LabeledPoint(report.Title, $"{r.Configuration}, A {r.AverageActivationBits:F2}", r.AverageWeightBits, 100 * r.TestAccuracy)).ToList(),
            fp32.ToDictionary(_ => report.Title, r => 100 * r.TestAccuracy), p));
        Figure("size-vs-latency.png", "Model file size against single-example latency", p => Charts.SizeVersusLatency(
            report.Results.Select(r => new LabeledPoint(report.Title, r.Configuration, r.LatencyMilliseconds, r.ModelBytes / 1024.0)).ToList(), p));

        string path = Path.Combine(directory, "report.md");
        File.WriteAllText(path, Markdown(report, figures));
        return path;
    }

    private static string Markdown(SampleReport report, IReadOnlyList<(string File, string Caption)> figures)
    {
        var q = report.Quantization;
        var md = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        md.AppendLine(c, $"# {report.Title}").AppendLine();
        md.AppendLine(c, $"Command: `{report.Command}`; wall time {TimeSpan.FromSeconds(report.Seconds):mm\\:ss}.").AppendLine();
        md.AppendLine("| configuration | test accuracy | avg weight bits | avg activation bits | model.zip bytes | latency, one example (ms) |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var r in report.Results)
            md.AppendLine(c, $"| {r.Configuration} | {r.TestAccuracy:P2} | {r.AverageWeightBits:F2} | {r.AverageActivationBits:F2} | {r.ModelBytes:N0} | {r.LatencyMilliseconds:F3} |");
        md.AppendLine().AppendLine("## Layers").AppendLine();
        md.AppendLine(c, $"Bits: {q.Summary} (element-weighted; first and last layers counted).").AppendLine();
        md.AppendLine("| layer | weights | weight count | share of weights | weight bytes | input activations | activation count |");
        md.AppendLine("|---|---|---:|---:|---:|---|---:|");
        double total = Math.Max(1, q.Layers.Sum(l => (double)l.WeightCount));
        foreach (var l in q.Layers)
            md.AppendLine(c, $"| {l.Layer} | {l.Weights.Scheme}-{l.Weights.Bits} | {l.WeightCount:N0} | {l.WeightCount / total:P1} | {l.WeightBytes:N0} | {(l.Activations is { } a ? $"{a.Scheme}-{a.Bits}" : "—")} | {l.ActivationCount:N0} |");
        md.AppendLine().AppendLine(c, $"Average bits: weights {q.AverageWeightBits:F3}, activations {q.AverageActivationBits:F3}.").AppendLine();
        md.AppendLine("## Stages").AppendLine();
        md.AppendLine("| stage | epochs | s per epoch |").AppendLine("|---|---:|---:|");
        foreach (var s in q.Stages) md.AppendLine(c, $"| {s.Stage} | {s.Epochs} | {s.SecondsPerEpoch:F1} |");
        if (q.SearchCostRatio is { } ratio) md.AppendLine().AppendLine(c, $"A QSS epoch cost {ratio:F2}× an FP32 epoch.");
        md.AppendLine().AppendLine("## Figures").AppendLine();
        foreach (var (file, caption) in figures) md.AppendLine(c, $"![{caption}]({file})").AppendLine().AppendLine(c, $"*{caption}*").AppendLine();
        return md.ToString();
    }
}
