using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>
/// The cost of a QSS epoch against an FP32 epoch, both timed in this process on the same data, batch size and
/// threads: one FP32 epoch of VggSmall from scratch, then one QSS epoch (all eight weight and five activation
/// candidates, layer-wise) from those weights. Nothing is checkpointed, so every run times both afresh.
/// </summary>
internal static class SearchCostBenchmark
{
    public static int Run(string dataDir, string outDir, int limit)
    {
        var ml = new MLContext(seed: 1);
        ml.Log += (_, e) => { if (e.Message.Contains(" epoch ")) Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {e.Message}"); };
        var train = ml.Data.LoadFromIdxImages(Path.Combine(dataDir, "train-images-idx3-ubyte.gz"), Path.Combine(dataDir, "train-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames);
        if (limit > 0) train = ml.Data.TakeRows(train, limit);
        int count = limit > 0 ? limit : 60000;
        var options = new ImageClassifierOptions
        {
            FeatureColumnName = DatasetCatalog.PixelsColumn, Epochs = 1, BatchSize = 128, Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, WeightDecay = 5e-4,
        };
        var fp32 = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ImageClassifier(options)).Fit(train);
        var search = ml.Quantization().QuantizeAutomatically(fp32, train, 3, new AutoQuantizationOptions
        {
            SearchEpochs = 1, PrecisionEpochs = 0, FineTuneEpochs = 0,
            Training = new TrainingOptions { BatchSize = 128, Optimizer = OptimizerKind.Sgd, LearningRate = 0.01, WeightDecay = 5e-4 },
        });
        var report = ((IEnumerable<ITransformer>)search).OfType<ImageClassifierTransformer>().Single().QuantizationReport!;
        var fp32Stage = report.Stages.Single(s => s.Stage == "FP32 training");
        var qss = report.Stages.Single(s => s.Stage == "QSS");
        double ratio = report.SearchCostRatio!.Value;
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "search-cost.json"), JsonSerializer.Serialize(new
        {
            network = "VggSmall 32-32-64-64-128-128", trainExamples = count, batchSize = 128, fp32EpochSeconds = fp32Stage.SecondsPerEpoch, qssEpochSeconds = qss.SecondsPerEpoch, ratio,
        }, new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(outDir, "search-cost.md"), string.Join("\n",
            $"# Cost of a QSS epoch (VggSmall, the first {count:N0} Fashion-MNIST training images, batch 128, CPU)", "",
            $"Command: `dotnet run --project src/Samples/Benchmarks -c Release -- search-cost{(limit > 0 ? $" --limit {limit}" : "")}` (both epochs timed in one process).", "",
            "| FP32 epoch (s) | QSS epoch (s), 8 weight × 5 activation candidates, layer-wise | QSS / FP32 |", "|---:|---:|---:|",
            $"| {fp32Stage.SecondsPerEpoch:F1} | {qss.SecondsPerEpoch:F1} | {ratio:F2} |", ""));
        Console.WriteLine($"FP32 epoch {fp32Stage.SecondsPerEpoch:F1} s, QSS epoch {qss.SecondsPerEpoch:F1} s: ratio {ratio:F2}");
        return 0;
    }
}
