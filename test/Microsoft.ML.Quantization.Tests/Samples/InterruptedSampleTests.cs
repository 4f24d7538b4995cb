using System.Diagnostics;
using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Samples;

/// <summary>
/// The main job killed mid-epoch loses at most that epoch: rerun on the same checkpoint directory, it resumes
/// after the last finished epoch and ends with the same model as a run that was never interrupted.
/// </summary>
public class InterruptedSampleTests
{
    private static readonly string Sample = Path.Combine(AppContext.BaseDirectory, "ImageClassification.dll");

    [Fact]
    public void KilledMidEpochTheMainJobResumesAndEndsWithTheUninterruptedModel()
    {
        using var temp = RepoPaths.TempDirectory();
        string Arguments(string name) => $"\"{Sample}\" --limit 512 --epochs 3 --checkpoints \"{temp.File(name + "-checkpoints")}\" --out \"{temp.File(name)}\"";

        string straight = Run(Arguments("straight"));
        Assert.DoesNotContain("resumed", straight);

        // Killed as soon as the first FP32 epoch is checkpointed, i.e. inside the second: the wait is on that file (written
        // by an atomic rename), or on the run ending without it, never on the clock.
        string firstCheckpoint = Path.Combine(temp.File("resumed-checkpoints"), "fp32", "FP32-training-checkpoint.bin");
        using (var killed = Start(Arguments("resumed")))
        {
            while (!File.Exists(firstCheckpoint) && !killed.HasExited) Thread.Sleep(10);
            Assert.True(File.Exists(firstCheckpoint), "the run never checkpointed its first epoch");
            killed.Kill(entireProcessTree: true);
            killed.WaitForExit();
        }
        Assert.False(File.Exists(Path.Combine(temp.File("resumed"), "model.zip")));

        string resumed = Run(Arguments("resumed"));
        Assert.Matches("FP32 training: resumed after epoch [123] ", resumed);
        var expected = SampleReport.Read(Path.Combine(temp.File("straight"), "report.json"));
        var actual = SampleReport.Read(Path.Combine(temp.File("resumed"), "report.json"));
        Assert.Equal(expected.Results.Select(r => (r.Configuration, r.TestAccuracy, r.ModelBytes)), actual.Results.Select(r => (r.Configuration, r.TestAccuracy, r.ModelBytes)));
        Assert.Equal(expected.Quantization.Layers, actual.Quantization.Layers);
    }

    private static Process Start(string arguments) =>
        Process.Start(new ProcessStartInfo("dotnet", arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;

    /// <summary>Runs the sample to completion and returns its output.</summary>
    private static string Run(string arguments)
    {
        using var process = Start(arguments);
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(ProcessRunner.HangGuard), $"the sample did not finish in {ProcessRunner.HangGuard}");
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {error.Result}\n{output}");
        return output;
    }
}
