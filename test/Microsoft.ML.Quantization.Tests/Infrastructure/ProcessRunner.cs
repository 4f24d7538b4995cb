using System.Diagnostics;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Infrastructure;

/// <summary>Runs a command as a user would in a shell, and fails the test with its output when it fails.</summary>
internal static class ProcessRunner
{
    /// <summary>
    /// How long a child process may run before it counts as hung: a guard, never a timing assertion, so it is far above
    /// the slowest run (about 2.5 minutes here) to hold on a CI machine slower or busier than this one.
    /// </summary>
    public static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(20);

    /// <summary>
    /// Runs <paramref name="file"/> with <paramref name="arguments"/> in <paramref name="workingDirectory"/> (the
    /// current directory when null); returns stdout and stderr together. Fails the test on a non-zero exit code, or
    /// when it runs past <paramref name="timeout"/> (<see cref="HangGuard"/> by default), printing what it wrote.
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
        var limit = timeout ?? HangGuard;
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"'{file} {string.Join(' ', arguments)}' did not finish in {limit}:\n{stdout.Result}{stderr.Result}");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
