using System.Text.Json;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>One trained configuration of a training benchmark.</summary>
/// <param name="MeanEpochSeconds">Mean time of the epochs trained in this run; null when every epoch was resumed from a checkpoint.</param>
internal sealed record TrainingResult(string Configuration, string Network, int TrainExamples, int Epochs, double TestAccuracy, double? MeanEpochSeconds, int EpochsRunHere);

/// <summary>Writes a training benchmark's results as JSON and a Markdown table.</summary>
internal static class TrainingReport
{
    public static void Write(string outDir, string stem, string title, string command, IReadOnlyList<TrainingResult> results)
    {
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, stem + ".json"), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        var lines = new List<string>
        {
            $"# {title}", "", $"Command: `{command}`", "",
            "| configuration | network | train examples | epochs | test accuracy | mean epoch time (s) |",
            "|---|---|---:|---:|---:|---:|",
        };
        lines.AddRange(results.Select(r => $"| {r.Configuration} | {r.Network} | {r.TrainExamples:N0} | {r.Epochs} | {r.TestAccuracy:P2} | {(r.MeanEpochSeconds is double m ? m.ToString("F1") : "— (resumed)")} |"));
        File.WriteAllText(Path.Combine(outDir, stem + ".md"), string.Join("\n", lines) + "\n");
    }
}
