using System.Diagnostics;
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
        Run("dotnet", $"publish \"{project}\" -c Release -o \"{temp.Path}\"", out _);
        var natives = Directory.EnumerateFiles(temp.Path, "*", SearchOption.AllDirectories)
            .Select(Path.GetFileName)
            .Where(f => f!.Contains("torch", StringComparison.OrdinalIgnoreCase) && !f.Equals("TorchSharp.dll", StringComparison.Ordinal) || f!.StartsWith("libc10", StringComparison.Ordinal))
            .ToList();
        Assert.Empty(natives);

        string model = Path.Combine(RepoPaths.Root, "test", "Microsoft.ML.Quantization.Tests", "Fixtures", "image-classifier-v2.zip");
        Run("dotnet", $"\"{Path.Combine(temp.Path, "Scoring.dll")}\" \"{model}\" \"{RepoPaths.Subset("fashion-mnist", "t10k-images-idx3-ubyte.gz")}\" \"{RepoPaths.Subset("fashion-mnist", "t10k-labels-idx1-ubyte.gz")}\" 50", out string output);
        Assert.Contains("scored 50 images", output);
        Assert.Contains("libtorch loaded: False", output);
    }

    private static void Run(string file, string arguments, out string output)
    {
        var info = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"'{file} {arguments}' did not finish in 5 minutes.");
        }
        output = stdout.Result + stderr.Result;
        Assert.True(process.ExitCode == 0, $"'{file} {arguments}' exited with {process.ExitCode}:\n{output}");
    }
}
