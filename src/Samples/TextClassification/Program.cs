using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Training;

// Spam or ham: a TextLstm trained in FP32 on SpamAssassin e-mails, quantized automatically to an average of
// 2 bits, saved as model.zip, reloaded and used to classify a few messages; report.md and its PNGs beside model.zip.
//   dotnet run --project src/Samples/TextClassification -c Release [-- --full] [--data DIR] [--epochs N] [--limit N] [--out DIR] [--json PATH] [--verbose]
return SampleMain.Run(args, Train);

static int Train(string[] args)
{
    string? Option(string name) => SampleMain.Option(args, name);
    string root = SampleRun.RepositoryRoot();
    bool full = args.Contains("--full");
    string data = Option("--data") ?? Path.Combine(root, "data", full ? "spam-assassin" : Path.Combine("subset", "spam-assassin"));
    string DataFile(string name) => new[] { name, name + ".gz" }.Select(n => Path.Combine(data, n)).FirstOrDefault(File.Exists)
        ?? throw new UsageException($"No {name} in '{Path.GetFullPath(data)}'. Run build/fetch-datasets.sh for --full, or pass --data DIR.");
    int epochs = SampleMain.PositiveOption(args, "--epochs") ?? 10;
    int? limit = SampleMain.PositiveOption(args, "--limit");
    string outDir = Option("--out") ?? Path.Combine(root, "artifacts", "text-classification");

    var ml = new MLContext(seed: 1);
    var run = new SampleRun(ml);
    var progress = run.Progress;
    var train = ml.Data.LoadFromLabeledTextTsv(DataFile("train.tsv"));
    if (limit is int rows) train = ml.Data.TakeRows(train, rows);
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

    var testMails = ml.Data.CreateEnumerable<Mail>(test, reuseRowObject: false).ToList();
    var results = SampleRun.Measure<Mail, Verdict>(ml, train, test, testMails, fp32, quantized, report, outDir, "e-mail");

    var scoring = new MLContext();
    scoring.ComponentCatalog.RegisterQuantization();
    var engine = scoring.Model.CreatePredictionEngine<Mail, Verdict>(scoring.Model.Load(Path.Combine(outDir, "model.zip"), out _));
    Console.WriteLine("\nPredictions of the reloaded quantized model:");
    foreach (string text in new[] { "Dear friend, claim your FREE prize now!!! Click here to win $1,000,000", "Hi Bob, the build is green again; can you review my patch before Friday's release?" })
    {
        var verdict = engine.Predict(new Mail { Text = text });
        Console.WriteLine($"  {verdict.PredictedClass,-5} p={verdict.Score.Max():F2}  {text}");
    }
    run.Finish("TextLstm on SpamAssassin, quantized automatically to 2 bits", "TextClassification", args, results, report, outDir, Option("--json"));
    return 0;
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
