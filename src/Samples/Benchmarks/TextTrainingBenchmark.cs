using Microsoft.ML.Data;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>Trains TextLstm on SpamAssassin (full 80/20 split) in FP32 and records test accuracy and epoch times.</summary>
internal static class TextTrainingBenchmark
{
    public static int Run(string dataDir, string outDir, int epochs, int tokens)
    {
        var ml = new MLContext(seed: 1);
        ml.Log += (_, e) => { if (e.Message.Contains(" epoch ")) Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {e.Message}"); };
        var train = ml.Data.LoadFromLabeledTextTsv(Path.Combine(dataDir, "train.tsv"));
        var test = ml.Data.LoadFromLabeledTextTsv(Path.Combine(dataDir, "test.tsv"));
        var options = new TextLstmOptions
        {
            Epochs = epochs, BatchSize = 64, LearningRate = 2e-3, SequenceLength = tokens,
            CheckpointDirectory = Path.Combine(outDir, "checkpoints", "TextFP32"),
        };
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.TextLstm(options)).Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        var seconds = model.LastTransformer.TrainingHistory.Select(h => h.Seconds).ToArray();
        int trainCount = train.GetColumn<string>("Label").Count();
        var results = new[]
        {
            new TrainingResult("FP32", $"TextLstm emb {options.EmbeddingSize}, hidden {options.HiddenSize}, {options.SequenceLength} tokens", trainCount, epochs,
                metrics.MicroAccuracy, seconds.Length > 0 ? seconds.Average() : null, seconds.Length),
        };
        Console.WriteLine($"FP32: test accuracy {metrics.MicroAccuracy:P2}");
        TrainingReport.Write(outDir, "text-training", "TextLstm on SpamAssassin (full 80/20 split, CPU)",
            $"dotnet run --project src/Samples/Benchmarks -c Release -- train-text --epochs {epochs} --tokens {tokens}", results);
        return 0;
    }
}
