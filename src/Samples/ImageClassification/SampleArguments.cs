namespace Microsoft.ML.Quantization.Samples.ImageClassification;

/// <summary>Command line of the sample.</summary>
/// <param name="DataDirectory">The IDX files (--data DIR; the embedded subset, or the full data with --full).</param>
/// <param name="Epochs">FP32 epochs (--epochs N).</param>
/// <param name="OutputDirectory">Where model.zip and the report go (--out DIR).</param>
/// <param name="JsonPath">A copy of report.json (--json PATH).</param>
/// <param name="CheckpointDirectory">Checkpoints of every stage (--checkpoints DIR): a rerun resumes where a killed run stopped.</param>
/// <param name="TrainLimit">Train on the first N images only (--limit N).</param>
internal sealed record SampleArguments(string DataDirectory, int Epochs, string OutputDirectory, string? JsonPath, string? CheckpointDirectory, int? TrainLimit)
{
    public static SampleArguments Parse(string[] args)
    {
        string? Option(string name) => SampleMain.Option(args, name);
        string root = SampleRun.RepositoryRoot();
        string data = Option("--data") ?? Path.Combine(root, "data", args.Contains("--full") ? "fashion-mnist" : Path.Combine("subset", "fashion-mnist"));
        if (!File.Exists(Path.Combine(data, "train-images-idx3-ubyte.gz")))
            throw new UsageException($"No Fashion-MNIST IDX files in '{Path.GetFullPath(data)}'. Run build/fetch-datasets.sh for --full, or pass --data DIR.");
        int epochs = SampleMain.PositiveOption(args, "--epochs") ?? (args.Contains("--full") ? 10 : 4);
        int? limit = SampleMain.PositiveOption(args, "--limit");
        return new SampleArguments(data, epochs, Option("--out") ?? Path.Combine(root, "artifacts", "image-classification"), Option("--json"), Option("--checkpoints"), limit);
    }
}
