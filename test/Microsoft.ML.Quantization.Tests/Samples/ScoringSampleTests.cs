using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Samples;

/// <summary>
/// The scoring sample references the library but not TorchSharp-cpu: its publish folder holds no libtorch
/// file, and it loads a saved quantized model and scores with the packed runtime without loading libtorch.
/// </summary>
public class ScoringSampleTests
{
    [Fact]
    public void PublishedScoringSampleHasNoLibtorchAndScores()
    {
        using var temp = RepoPaths.TempDirectory();
        string project = Path.Combine(RepoPaths.Root, "src", "Samples", "Scoring", "Scoring.csproj");
        ProcessRunner.Run("dotnet", ["publish", project, "-c", "Release", "-o", temp.Path]);
        var natives = Directory.EnumerateFiles(temp.Path, "*", SearchOption.AllDirectories)
            .Select(Path.GetFileName)
            .Where(f => f!.Contains("torch", StringComparison.OrdinalIgnoreCase) && !f.Equals("TorchSharp.dll", StringComparison.Ordinal) || f!.StartsWith("libc10", StringComparison.Ordinal))
            .ToList();
        Assert.Empty(natives);

        string model = RepoPaths.ImageClassifierFixture;
        string output = ProcessRunner.Run("dotnet", [Path.Combine(temp.Path, "Scoring.dll"), model,
            RepoPaths.Subset("fashion-mnist", "t10k-images-idx3-ubyte.gz"), RepoPaths.Subset("fashion-mnist", "t10k-labels-idx1-ubyte.gz"), "--count", "50"]);
        Assert.Contains("scored 50 images", output);
        Assert.Contains("libtorch loaded: False", output);
    }
}
