namespace Microsoft.ML.Quantization.Tests.Infrastructure;

/// <summary>Paths into the repository checkout the tests run from.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    public static string Subset(params string[] parts) => Path.Combine(new[] { Root, "data", "subset" }.Concat(parts).ToArray());

    /// <summary>A project folder under src/.</summary>
    public static string Source(string project) => Path.Combine(Root, "src", project);

    /// <summary>A committed test fixture.</summary>
    public static string Fixture(string file) => Path.Combine(Root, "test", "Microsoft.ML.Quantization.Tests", "Fixtures", file);

    /// <summary>The current format's image classifier fixture, saved under the current ML.NET.</summary>
    public static string ImageClassifierFixture => Fixture("image-classifier-v2-mlnet-6.0.0.zip");

    /// <summary>A fresh temporary directory, removed when disposed.</summary>
    public static TempDirectory TempDirectory() => new();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MLQuant.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("The tests must run from inside the MLQuant checkout.");
    }
}

internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mlquant-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } // best effort
    }
}
