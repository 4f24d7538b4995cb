using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization;
using Microsoft.ML.Quantization.Samples.ImageClassification;
using Microsoft.ML.Transforms.Image;

// The README's main job: Fashion-MNIST images read from PNG files through ImageAnalytics, a VggSmall
// trained in FP32 and with fixed W3A3 quantization, saved as model.zip, reloaded and used to predict.
//   dotnet run --project src/Samples/ImageClassification -c Release [-- --full] [--data DIR] [--epochs N] [--out DIR] [--json PATH]
var arguments = SampleArguments.Parse(args);
var watch = Stopwatch.StartNew();
var ml = new MLContext(seed: 1);
ml.Log += (_, e) => { if (e.Message.Contains(" epoch ")) Console.WriteLine($"  {watch.Elapsed:mm\\:ss} {e.Message[(e.Message.IndexOf(']') + 2)..]}"); };

Console.WriteLine($"Data: {arguments.DataDirectory}");
string imageFolder = Path.Combine(Path.GetTempPath(), "mlquant-fashion-png");
var train = ml.Data.LoadFromEnumerable(PngDataset.Write(ml, arguments.DataDirectory, "train", imageFolder));
var test = ml.Data.LoadFromEnumerable(PngDataset.Write(ml, arguments.DataDirectory, "t10k", imageFolder));
Console.WriteLine($"Wrote the images as PNG files under {imageFolder}");

var configurations = new (string Name, QagOptions? Quantization)[]
{
    ("FP32", null),
    ("W3A3 (PotQ-3 weights, ClipQ-3 activations)", new QagOptions { Weights = new(QuantizationScheme.PotQ, 3, QuantizationGranularity.PerOutputChannel), Activations = new(QuantizationScheme.ClipQ, 3) }),
};
Directory.CreateDirectory(arguments.OutputDirectory);
var results = new List<Dictionary<string, object>>();
ITransformer? last = null;
DataViewSchema? schema = null;
foreach (var (name, quantization) in configurations)
{
    Console.WriteLine($"\n== {name}");
    var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
        .Append(ml.Transforms.LoadImages("Image", imageFolder, nameof(PngRow.ImagePath)))
        .Append(ml.Transforms.ResizeImages("Image", 28, 28))
        .Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Red))
        .Append(ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
        {
            FeatureColumnName = "Pixels", Epochs = arguments.Epochs, BatchSize = 128,
            Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, WeightDecay = 5e-4, Quantization = quantization,
        }))
        .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"));
    var model = pipeline.Fit(train);
    var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
    string path = Path.Combine(arguments.OutputDirectory, quantization is null ? "model-fp32.zip" : "model.zip");
    ml.Model.SaveAtomically(model, train.Schema, path);
    results.Add(new() { ["configuration"] = name, ["testAccuracy"] = metrics.MicroAccuracy, ["modelBytes"] = new FileInfo(path).Length, ["modelPath"] = path });
    last = model;
    schema = train.Schema;
}

Console.WriteLine("\n| configuration | test accuracy | model.zip bytes |\n|---|---:|---:|");
foreach (var r in results) Console.WriteLine($"| {r["configuration"]} | {(double)r["testAccuracy"]:P2} | {r["modelBytes"]:N0} |");

// Reload the quantized model in a fresh context, as a scoring process would, and predict a few images.
var scoring = new MLContext();
scoring.ComponentCatalog.RegisterQuantization();
var loaded = scoring.Model.Load(Path.Combine(arguments.OutputDirectory, "model.zip"), out _);
var engine = scoring.Model.CreatePredictionEngine<PngRow, PngPrediction>(loaded);
Console.WriteLine("\nPredictions of the reloaded quantized model:");
foreach (var row in ml.Data.CreateEnumerable<PngRow>(test, reuseRowObject: false).Take(5))
{
    var prediction = engine.Predict(row);
    Console.WriteLine($"  {Path.GetFileName(row.ImagePath),-16} label {row.Label,-12} predicted {prediction.PredictedClass,-12} p={prediction.Score.Max():F2}");
}
Console.WriteLine($"\nDone in {watch.Elapsed:mm\\:ss}; models under {arguments.OutputDirectory}");
if (arguments.JsonPath is not null)
{
    File.WriteAllText(arguments.JsonPath, JsonSerializer.Serialize(new { seconds = watch.Elapsed.TotalSeconds, results }, new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"Metrics written to {arguments.JsonPath}");
}
