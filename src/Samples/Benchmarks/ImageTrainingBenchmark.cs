using Microsoft.ML.Quantization;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Training;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>
/// Trains VggSmall on Fashion-MNIST in FP32 and with fixed W3A3 (PotQ-3 weights, ClipQ-3 activations) and
/// records test accuracy and epoch times. Each configuration checkpoints every epoch, so a rerun resumes.
/// </summary>
internal static class ImageTrainingBenchmark
{
    public static int Run(string dataDir, string outDir, int epochs, int limit)
    {
        var ml = new MLContext(seed: 1);
        string File(string name) => Path.Combine(dataDir, name);
        var train = ml.Data.LoadFromIdxImages(File("train-images-idx3-ubyte.gz"), File("train-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames);
        var test = ml.Data.LoadFromIdxImages(File("t10k-images-idx3-ubyte.gz"), File("t10k-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames);
        if (limit > 0) train = ml.Data.TakeRows(train, limit);

        var configurations = new (string Name, QagOptions? Quantization)[]
        {
            ("FP32", null),
            ("W3A3 PotQ-3/ClipQ-3", new QagOptions { Weights = new(QuantizationScheme.PotQ, 3, QuantizationGranularity.PerOutputChannel), Activations = new(QuantizationScheme.ClipQ, 3) }),
        };
        ml.Log += (_, e) => { if (e.Message.Contains(" epoch ")) Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {e.Message}"); };
        var results = new List<TrainingResult>();
        Directory.CreateDirectory(outDir);
        foreach (var (name, quantization) in configurations)
        {
            var options = new ImageClassifierOptions
            {
                FeatureColumnName = DatasetCatalog.PixelsColumn,
                Epochs = epochs,
                BatchSize = 128,
                Optimizer = OptimizerKind.Sgd,
                LearningRate = 0.05,
                Momentum = 0.9,
                WeightDecay = 5e-4,
                Quantization = quantization,
                CheckpointDirectory = Path.Combine(outDir, "checkpoints", string.Concat(name.Where(char.IsLetterOrDigit))),
            };
            var model = ml.Transforms.Conversion.MapValueToKey("Label")
                .Append(ml.MulticlassClassification.Trainers.ImageClassifier(options)).Fit(train);
            var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
            var classifier = model.LastTransformer;
            var epochSeconds = classifier.TrainingHistory.Select(h => h.Seconds).ToArray();
            results.Add(new TrainingResult(name, "VggSmall 32-32-64-64-128-128", limit > 0 ? limit : 60000, epochs, metrics.MicroAccuracy,
                epochSeconds.Length > 0 ? epochSeconds.Average() : null, epochSeconds.Length));
            Console.WriteLine($"{name}: test accuracy {metrics.MicroAccuracy:P2}");
            TrainingReport.Write(outDir, "image-training", "VggSmall on Fashion-MNIST (full split, CPU)",
                $"dotnet run --project src/Samples/Benchmarks -c Release -- train-image --epochs {epochs}", results);
        }
        return 0;
    }
}
