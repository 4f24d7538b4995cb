using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization;
using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Samples.ImageClassification;
using Microsoft.ML.Transforms.Image;

// The README's main job: Fashion-MNIST images read from PNG files through ImageAnalytics, a VggSmall
// trained in FP32, then quantized automatically to an average of 2 bits (QSS, QPL, fine-tuning), saved as
// model.zip, reloaded and used to predict; report.md and its PNGs are written beside model.zip.
//   dotnet run --project src/Samples/ImageClassification -c Release [-- --full] [--data DIR] [--epochs N] [--out DIR] [--json PATH] [--checkpoints DIR] [--limit N]
var arguments = SampleArguments.Parse(args);
var watch = Stopwatch.StartNew();
var ml = new MLContext(seed: 1);
var progress = new StageProgress();
ml.Log += (_, e) =>
{
    // Progress bars show the epochs on a terminal; elsewhere (redirected output) the log lines do.
    if (!progress.Interactive && (e.Message.Contains(" epoch ") || e.Message.Contains("QSS:") || e.Message.Contains("QPL:")))
        Console.WriteLine($"  {watch.Elapsed:mm\\:ss} {e.Message[(e.Message.IndexOf(']') + 2)..]}");
};

Console.WriteLine($"Data: {arguments.DataDirectory}");
string imageFolder = PngDataset.FolderFor(arguments.DataDirectory);
var trainRows = PngDataset.Write(ml, arguments.DataDirectory, "train", imageFolder);
var train = ml.Data.LoadFromEnumerable(arguments.TrainLimit is int limit ? trainRows.Take(limit) : trainRows);
var test = ml.Data.LoadFromEnumerable(PngDataset.Write(ml, arguments.DataDirectory, "t10k", imageFolder));
Console.WriteLine($"Wrote the images as PNG files under {imageFolder}");
Directory.CreateDirectory(arguments.OutputDirectory);

Console.WriteLine("\n== FP32 training");
var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.LoadImages("Image", imageFolder, nameof(PngRow.ImagePath)))
    .Append(ml.Transforms.ResizeImages("Image", 28, 28))
    .Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Red))
    .Append(ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
    {
        FeatureColumnName = "Pixels", Epochs = arguments.Epochs, BatchSize = 128,
        Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, WeightDecay = 5e-4, Progress = progress,
        CheckpointDirectory = arguments.CheckpointDirectory is string fp32Checkpoints ? Path.Combine(fp32Checkpoints, "fp32") : null,
    }))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"));
var fp32 = progress.Run(() => pipeline.Fit(train));

Console.WriteLine("\n== Automatic quantization to 2 bits (QSS, QPL, fine-tuning)");
var quantized = progress.Run(() => ml.Quantization().QuantizeAutomatically(fp32, train, targetBits: 2, new AutoQuantizationOptions
{
    Training = new TrainingOptions
    {
        BatchSize = 128, Optimizer = OptimizerKind.Sgd, LearningRate = 0.01, WeightDecay = 5e-4, Progress = progress,
        CheckpointDirectory = arguments.CheckpointDirectory is string autoCheckpoints ? Path.Combine(autoCheckpoints, "auto") : null,
    },
}));
var report = ((TransformerChain<ITransformer>)quantized).OfType<ImageClassifierTransformer>().Single().QuantizationReport!;

var testRows = ml.Data.CreateEnumerable<PngRow>(test, reuseRowObject: false).ToList();
var results = new List<ConfigurationResult>();
foreach (var (name, model, file, bits) in new[]
{
    ("FP32", (ITransformer)fp32, "model-fp32.zip", (32.0, 32.0)),
    ($"auto W{report.AverageWeightBits:F2}/A{report.AverageActivationBits:F2}", quantized, "model.zip", (report.AverageWeightBits, report.AverageActivationBits)),
})
{
    var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
    string path = Path.Combine(arguments.OutputDirectory, file);
    ml.Model.SaveAtomically(model, train.Schema, path);
    var predictor = ml.Model.CreatePredictionEngine<PngRow, PngPrediction>(model);
    double latency = LatencyProbe.MedianMilliseconds(Math.Min(200, testRows.Count), i => predictor.Predict(testRows[i]));
    results.Add(new ConfigurationResult(name, metrics.MicroAccuracy, bits.Item1, bits.Item2, new FileInfo(path).Length, latency));
}

Console.WriteLine($"\nPer layer:\n{report}");
Console.WriteLine("\n| configuration | test accuracy | model.zip bytes | latency, one PNG (ms) |\n|---|---:|---:|---:|");
foreach (var r in results) Console.WriteLine($"| {r.Configuration} | {r.TestAccuracy:P2} | {r.ModelBytes:N0} | {r.LatencyMilliseconds:F3} |");

// Reload the quantized model in a fresh context, as a scoring process would, and predict a few images.
var scoring = new MLContext();
scoring.ComponentCatalog.RegisterQuantization();
var loaded = scoring.Model.Load(Path.Combine(arguments.OutputDirectory, "model.zip"), out _);
var engine = scoring.Model.CreatePredictionEngine<PngRow, PngPrediction>(loaded);
Console.WriteLine("\nPredictions of the reloaded quantized model:");
foreach (var row in testRows.Take(5))
{
    var prediction = engine.Predict(row);
    Console.WriteLine($"  {Path.GetFileName(row.ImagePath),-16} label {row.Label,-12} predicted {prediction.PredictedClass,-12} p={prediction.Score.Max():F2}");
}
var sampleReport = new SampleReport("VggSmall on Fashion-MNIST, quantized automatically to 2 bits",
    "dotnet run --project src/Samples/ImageClassification -c Release" + (args.Length > 0 ? " -- " + string.Join(" ", args) : ""), watch.Elapsed.TotalSeconds, results, report);
Console.WriteLine($"Report: {ReportTool.Draw(sampleReport.Write(arguments.OutputDirectory))}");
if (arguments.JsonPath is not null)
{
    File.Copy(Path.Combine(arguments.OutputDirectory, "report.json"), arguments.JsonPath, overwrite: true);
    Console.WriteLine($"Metrics written to {arguments.JsonPath}");
}
Console.WriteLine($"\nDone in {watch.Elapsed:mm\\:ss}; models and report under {arguments.OutputDirectory}");
