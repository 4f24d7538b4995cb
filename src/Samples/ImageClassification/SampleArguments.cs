namespace Microsoft.ML.Quantization.Samples.ImageClassification;

/// <summary>Command line of the sample.</summary>
internal sealed record SampleArguments(string DataDirectory, int Epochs, string OutputDirectory, string? JsonPath)
{
    public static SampleArguments Parse(string[] args)
    {
        string? Option(string name)
        {
            int i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }
        string root = FindRepositoryRoot();
        string data = Option("--data") ?? Path.Combine(root, "data", args.Contains("--full") ? "fashion-mnist" : Path.Combine("subset", "fashion-mnist"));
        if (!File.Exists(Path.Combine(data, "train-images-idx3-ubyte.gz")))
            throw new FileNotFoundException($"No Fashion-MNIST IDX files in '{data}'. Run build/fetch-datasets.sh for --full, or pass --data DIR.");
        int epochs = int.Parse(Option("--epochs") ?? (args.Contains("--full") ? "10" : "4"));
        return new SampleArguments(data, epochs, Option("--out") ?? Path.Combine(root, "artifacts", "image-classification"), Option("--json"));
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MLQuant.sln"))) return dir.FullName;
        }
        return Directory.GetCurrentDirectory();
    }
}
