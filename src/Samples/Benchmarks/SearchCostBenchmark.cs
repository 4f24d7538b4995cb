using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Search;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>One model's QSS and FP32 epoch times, measured in one process.</summary>
internal sealed record SearchCostRow(string Network, string Command, int TrainExamples, int BatchSize, double Fp32EpochSeconds, double QssEpochSeconds, double Ratio);

/// <summary>
/// The cost of a QSS epoch against an FP32 epoch, both timed in this process on the same data, batch size and
/// threads: one FP32 epoch from scratch, then one QSS epoch (all eight weight and five activation candidates,
/// layer-wise) from those weights, for VggSmall on Fashion-MNIST or TextLstm on SpamAssassin. Nothing is
/// checkpointed, so every run times both afresh; a run replaces its model's row of the table.
/// </summary>
internal static class SearchCostBenchmark
{
    public static int Run(string model, string? dataDir, string outDir, int limit)
    {
        bool image = model switch
        {
            "VggSmall" => true,
            "TextLstm" => false,
            _ => throw new ArgumentOutOfRangeException(nameof(model), model, "search-cost times VggSmall or TextLstm."),
        };
        var ml = new MLContext(seed: 1);
        ml.Log += (_, e) => { if (e.Message.Contains(" epoch ")) Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {e.Message}"); };
        dataDir ??= Path.Combine("data", image ? "fashion-mnist" : "spam-assassin");
        var train = AutoQuantizationBenchmark.Load(ml, dataDir, image, train: true);
        if (limit > 0) train = ml.Data.TakeRows(train, limit);
        int count = 0;
        using (var cursor = train.GetRowCursor(Array.Empty<DataViewSchema.Column>()))
        {
            while (cursor.MoveNext()) count++;
        }
        // The auto-image and auto-text benchmarks' FP32 model and stage settings, without checkpoints. The first training
        // in a process pays libtorch's start-up inside its epoch, so one untimed epoch runs first and both timed epochs run warm.
        AutoQuantizationBenchmark.TrainFp32(ml, train, image, 1, null);
        var (fp32, fp32Options) = AutoQuantizationBenchmark.TrainFp32(ml, train, image, 1, null);
        var search = ml.Quantization().QuantizeAutomatically(fp32, train, 3, new AutoQuantizationOptions
        {
            SearchEpochs = 1, PrecisionEpochs = 0, FineTuneEpochs = 0,
            Qag = new QagOptions { KeepFirstAndLastAt8Bits = image },
            Training = fp32Options.ForBenchmarkStage(null),
        });
        var report = ((IEnumerable<ITransformer>)search).OfType<GraphClassifierTransformerBase>().Single().QuantizationReport!;
        var fp32Stage = report.Stages.Single(s => s.Stage == "FP32 training");
        var qss = report.Stages.Single(s => s.Stage == "QSS");
        string command = $"search-cost --model {model}" + (limit > 0 ? $" --limit {limit}" : "");
        var row = new SearchCostRow(image ? "VggSmall 32-32-64-64-128-128, Fashion-MNIST" : "TextLstm 64-128, SpamAssassin, 128 tokens", command, count, fp32Options.BatchSize,
            fp32Stage.SecondsPerEpoch, qss.SecondsPerEpoch, report.SearchCostRatio!.Value);
        Write(outDir, row);
        Console.WriteLine($"{model}: FP32 epoch {row.Fp32EpochSeconds:F1} s, QSS epoch {row.QssEpochSeconds:F1} s: ratio {row.Ratio:F2}");
        return 0;
    }

    private static void Write(string outDir, SearchCostRow row)
    {
        Directory.CreateDirectory(outDir);
        string json = Path.Combine(outDir, "search-cost.json");
        var rows = File.Exists(json) ? JsonSerializer.Deserialize<List<SearchCostRow>>(File.ReadAllText(json)) ?? new() : new();
        rows.RemoveAll(r => r.Network == row.Network);
        rows.Add(row);
        File.WriteAllText(json, JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(outDir, "search-cost.md"), string.Join("\n", new[]
        {
            "# Cost of a QSS epoch against an FP32 epoch (CPU, both timed in one process after an untimed FP32 epoch)", "",
            "Each row: `dotnet run --project src/Samples/Benchmarks -c Release -- <command>`. QSS mixes 8 weight and 5 activation candidates, layer-wise.", "",
            "| network | command | training examples | batch | FP32 epoch (s) | QSS epoch (s) | QSS / FP32 |", "|---|---|---:|---:|---:|---:|---:|",
        }.Concat(rows.Select(r => $"| {r.Network} | `{r.Command}` | {r.TrainExamples:N0} | {r.BatchSize} | {r.Fp32EpochSeconds:F1} | {r.QssEpochSeconds:F1} | {r.Ratio:F2} |"))) + "\n");
    }
}
