using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization;

// Spam or ham: a TextLstm trained in FP32 on SpamAssassin e-mails, quantized automatically to an average of
// 2 bits, saved as model.zip, reloaded and used to classify a few messages.
//   dotnet run --project src/Samples/TextClassification -c Release [-- --full] [--data DIR] [--epochs N] [--out DIR] [--json PATH]
string? Option(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
string root = FindRepositoryRoot();
bool full = args.Contains("--full");
string data = Option("--data") ?? Path.Combine(root, "data", full ? "spam-assassin" : Path.Combine("subset", "spam-assassin"));
string File(string name) => new[] { name, name + ".gz" }.Select(n => Path.Combine(data, n)).FirstOrDefault(System.IO.File.Exists)
    ?? throw new FileNotFoundException($"No {name} in '{data}'. Run build/fetch-datasets.sh for --full, or pass --data DIR.");
int epochs = int.Parse(Option("--epochs") ?? "10");
string outDir = Option("--out") ?? Path.Combine(root, "artifacts", "text-classification");

var watch = Stopwatch.StartNew();
var ml = new MLContext(seed: 1);
ml.Log += (_, e) =>
{
    if (e.Message.Contains(" epoch ") || e.Message.Contains("QSS:") || e.Message.Contains("QPL:"))
        Console.WriteLine($"  {watch.Elapsed:mm\\:ss} {e.Message[(e.Message.IndexOf(']') + 2)..]}");
};
var train = ml.Data.LoadFromLabeledTextTsv(File("train.tsv"));
var test = ml.Data.LoadFromLabeledTextTsv(File("test.tsv"));
Console.WriteLine($"Data: {data}");

Console.WriteLine("\n== FP32 training");
var fp32 = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.MulticlassClassification.Trainers.TextLstm(new TextLstmOptions { Epochs = epochs, SequenceLength = 128, LearningRate = 2e-3 }))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"))
    .Fit(train);

Console.WriteLine("\n== Automatic quantization to 2 bits (QSS, QPL, fine-tuning)");
var quantized = ml.Quantization().QuantizeAutomatically(fp32, train, targetBits: 2, new AutoQuantizationOptions
{
    Qag = new QagOptions { KeepFirstAndLastAt8Bits = false }, // the embedding is the first layer and holds most weights
    Training = new TrainingOptions { LearningRate = 4e-4 },
});
var report = ((TransformerChain<ITransformer>)quantized).OfType<TextLstmTransformer>().Single().QuantizationReport!;

Directory.CreateDirectory(outDir);
var results = new List<Dictionary<string, object>>();
foreach (var (name, model, file) in new[] { ("FP32", (ITransformer)fp32, "model-fp32.zip"), ($"auto W{report.AverageWeightBits:F2}/A{report.AverageActivationBits:F2}", quantized, "model.zip") })
{
    var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
    string path = Path.Combine(outDir, file);
    ml.Model.SaveAtomically(model, train.Schema, path);
    results.Add(new() { ["configuration"] = name, ["testAccuracy"] = metrics.MicroAccuracy, ["modelBytes"] = new FileInfo(path).Length });
}
Console.WriteLine($"\nPer layer:\n{report}");
Console.WriteLine("\n| configuration | test accuracy | model.zip bytes |\n|---|---:|---:|");
foreach (var r in results) Console.WriteLine($"| {r["configuration"]} | {(double)r["testAccuracy"]:P2} | {r["modelBytes"]:N0} |");

var scoring = new MLContext();
scoring.ComponentCatalog.RegisterQuantization();
var engine = scoring.Model.CreatePredictionEngine<Mail, Verdict>(scoring.Model.Load(Path.Combine(outDir, "model.zip"), out _));
Console.WriteLine("\nPredictions of the reloaded quantized model:");
foreach (string text in new[] { "Dear friend, claim your FREE prize now!!! Click here to win $1,000,000", "Hi Bob, the build is green again; can you review my patch before Friday's release?" })
{
    var verdict = engine.Predict(new Mail { Text = text });
    Console.WriteLine($"  {verdict.PredictedClass,-5} p={verdict.Score.Max():F2}  {text}");
}
Console.WriteLine($"\nDone in {watch.Elapsed:mm\\:ss}; models under {outDir}");
if (Option("--json") is string json)
    System.IO.File.WriteAllText(json, JsonSerializer.Serialize(new { seconds = watch.Elapsed.TotalSeconds, results, report.AverageWeightBits, report.AverageActivationBits, report.Layers }, new JsonSerializerOptions { WriteIndented = true }));
return 0;

static string FindRepositoryRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (System.IO.File.Exists(Path.Combine(dir.FullName, "MLQuant.sln"))) return dir.FullName;
    return Directory.GetCurrentDirectory();
}

/// <summary>A message to classify.</summary>
internal sealed class Mail
{
    public string Text { get; set; } = "";
    public string Label { get; set; } = ""; // read by the model's MapValueToKey; unused for a prediction
}

/// <summary>The classifier's outputs.</summary>
internal sealed class Verdict
{
    public string PredictedClass { get; set; } = "";
    public float[] Score { get; set; } = Array.Empty<float>();
}
