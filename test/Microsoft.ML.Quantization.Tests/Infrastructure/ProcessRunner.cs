using System.Diagnostics;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Infrastructure;

/// <summary>Runs a command as a user would in a shell, and fails the test with its output when it fails.</summary>
internal static class ProcessRunner
{
    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="arguments"/> in <paramref name="workingDirectory"/> (the
    /// current directory when null); returns stdout and stderr together. Fails the test on a non-zero exit code, or
    /// when it runs past <paramref name="timeout"/> (5 minutes by default), printing what it wrote.
    /// </summary>
    public static string Run(string file, IEnumerable<string> arguments, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var (code, output) = TryRun(file, arguments, workingDirectory, timeout);
        string command = $"{file} {string.Join(' ', arguments)}";
        Assert.True(code == 0, $"'{command}' in {workingDirectory ?? "."} exited with {code}:\n{output}");
        return output;
    }

    /// <summary>As <see cref="Run"/>, but returns the exit code instead of failing on it.</summary>
    public static (int ExitCode, string Output) TryRun(string file, IEnumerable<string> arguments, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments) info.ArgumentList.Add(argument);
        if (workingDirectory is not null) info.WorkingDirectory = workingDirectory;
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var limit = timeout ?? TimeSpan.FromMinutes(5);
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"'{file} {string.Join(' ', arguments)}' did not finish in {limit}:\n{stdout.Result}{stderr.Result}");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
