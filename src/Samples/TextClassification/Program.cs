using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization;
using Microsoft.ML.Quantization.Samples;

// Spam or ham: a TextLstm trained in FP32 on SpamAssassin e-mails, quantized automatically to an average of
// 2 bits, saved as model.zip, reloaded and used to classify a few messages; report.md and its PNGs beside model.zip.
//   dotnet run --project src/Samples/TextClassification -c Release [-- --full] [--data DIR] [--epochs N] [--out DIR] [--json PATH]
string? Option(string name) => Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
string root = FindRepositoryRoot();
bool full = args.Contains("--full");
string data = Option("--data") ?? Path.Combine(root, "data", full ? "spam-assassin" : Path.Combine("subset", "spam-assassin"));
string DataFile(string name) => new[] { name, name + ".gz" }.Select(n => Path.Combine(data, n)).FirstOrDefault(File.Exists)
    ?? throw new FileNotFoundException($"No {name} in '{data}'. Run build/fetch-datasets.sh for --full, or pass --data DIR.");
int epochs = int.Parse(Option("--epochs") ?? "10");
string outDir = Option("--out") ?? Path.Combine(root, "artifacts", "text-classification");

var watch = Stopwatch.StartNew();
var ml = new MLContext(seed: 1);
var progress = new StageProgress();
ml.Log += (_, e) =>
{
    if (!progress.Interactive && (e.Message.Contains(" epoch ") || e.Message.Contains("QSS:") || e.Message.Contains("QPL:")))
        Console.WriteLine($"  {watch.Elapsed:mm\\:ss} {e.Message[(e.Message.IndexOf(']') + 2)..]}");
};
var train = ml.Data.LoadFromLabeledTextTsv(DataFile("train.tsv"));
var test = ml.Data.LoadFromLabeledTextTsv(DataFile("test.tsv"));
Console.WriteLine($"Data: {data}");

Console.WriteLine("\n== FP32 training");
var fp32 = progress.Run(() => ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.MulticlassClassification.Trainers.TextLstm(new TextLstmOptions { Epochs = epochs, SequenceLength = 128, LearningRate = 2e-3, Progress = progress }))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"))
    .Fit(train));

Console.WriteLine("\n== Automatic quantization to 2 bits (QSS, QPL, fine-tuning)");
var quantized = progress.Run(() => ml.Quantization().QuantizeAutomatically(fp32, train, targetBits: 2, new AutoQuantizationOptions
{
    Qag = new QagOptions { KeepFirstAndLastAt8Bits = false }, // the embedding is the first layer and holds most weights
    Training = new TrainingOptions { LearningRate = 4e-4, Progress = progress },
}));
var report = ((TransformerChain<ITransformer>)quantized).OfType<TextLstmTransformer>().Single().QuantizationReport!;

Directory.CreateDirectory(outDir);
var testMails = ml.Data.CreateEnumerable<Mail>(test, reuseRowObject: false).ToList();
var results = new List<ConfigurationResult>();
foreach (var (name, model, file, bits) in new[]
{
    ("FP32", (ITransformer)fp32, "model-fp32.zip", (32.0, 32.0)),
    ($"auto W{report.AverageWeightBits:F2}/A{report.AverageActivationBits:F2}", quantized, "model.zip", (report.AverageWeightBits, report.AverageActivationBits)),
})
{
    var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
    string path = Path.Combine(outDir, file);
    ml.Model.SaveAtomically(model, train.Schema, path);
    var predictor = ml.Model.CreatePredictionEngine<Mail, Verdict>(model);
    double latency = LatencyProbe.MedianMilliseconds(Math.Min(200, testMails.Count), i => predictor.Predict(testMails[i]));
    results.Add(new ConfigurationResult(name, metrics.MicroAccuracy, bits.Item1, bits.Item2, new FileInfo(path).Length, latency));
}
Console.WriteLine($"\nPer layer:\n{report}");
Console.WriteLine("\n| configuration | test accuracy | model.zip bytes | latency, one e-mail (ms) |\n|---|---:|---:|---:|");
foreach (var r in results) Console.WriteLine($"| {r.Configuration} | {r.TestAccuracy:P2} | {r.ModelBytes:N0} | {r.LatencyMilliseconds:F3} |");

var scoring = new MLContext();
scoring.ComponentCatalog.RegisterQuantization();
var engine = scoring.Model.CreatePredictionEngine<Mail, Verdict>(scoring.Model.Load(Path.Combine(outDir, "model.zip"), out _));
Console.WriteLine("\nPredictions of the reloaded quantized model:");
foreach (string text in new[] { "Dear friend, claim your FREE prize now!!! Click here to win $1,000,000", "Hi Bob, the build is green again; can you review my patch before Friday's release?" })
{
    var verdict = engine.Predict(new Mail { Text = text });
    Console.WriteLine($"  {verdict.PredictedClass,-5} p={verdict.Score.Max():F2}  {text}");
}
var sampleReport = new SampleReport("TextLstm on SpamAssassin, quantized automatically to 2 bits",
    "dotnet run --project src/Samples/TextClassification -c Release" + (args.Length > 0 ? " -- " + string.Join(" ", args) : ""), watch.Elapsed.TotalSeconds, results, report);
string reportJson = sampleReport.Write(outDir);
Console.WriteLine($"Report: {ReportTool.Draw(reportJson)}");
if (Option("--json") is string json) File.Copy(reportJson, json, overwrite: true);
Console.WriteLine($"\nDone in {watch.Elapsed:mm\\:ss}; models and report under {outDir}");
return 0;

static string FindRepositoryRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        if (File.Exists(Path.Combine(dir.FullName, "MLQuant.sln"))) return dir.FullName;
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
