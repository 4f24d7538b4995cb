using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Samples;

/// <summary>
/// A newcomer's first session: the README's command table, read from the README, run in order in a fresh copy of the
/// checkout (its tracked files, nothing built), each command on what the one before it produced, from the copy's root
/// as a shell user runs them. The training samples get a small --limit and --epochs; the service's port is swapped for
/// a free one.
/// </summary>
public partial class ReadmeCommandsTests
{
    private const string Smaller = "--limit 300 --epochs 1";

    [Fact]
    public void TheCommandTableRunsInOrderOnAFreshCopy()
    {
        using var temp = RepoPaths.TempDirectory();
        string root = CopyCheckout(temp.File("clone"));

        string trained = ProcessRunner.Run("dotnet", Arguments(Command("main job"), Smaller), root);
        Assert.True(File.Exists(Path.Combine(root, "artifacts", "image-classification", "model.zip")), trained);

        string scored = ProcessRunner.Run("dotnet", Arguments(Command("score a saved model")), root);
        Assert.Matches(@"scored 100 images, 100 labelled, \d+ correct", scored);
        Assert.Contains("libtorch loaded: False", scored);

        ServeAndPredict(root, Command("serve a saved model"));

        ProcessRunner.Run("dotnet", Arguments(Command("text sample"), Smaller), root);
        Assert.True(File.Exists(Path.Combine(root, "artifacts", "text-classification", "model.zip")));
    }

    [Fact]
    public void UserErrorsAreOneLineWithoutAStackTraceAndExitWithTwo()
    {
        string scoring = Path.Combine(RepoPaths.Root, "src", "Samples", "Scoring", "Scoring.csproj");
        var (code, output) = ProcessRunner.TryRun("dotnet", ["run", "--project", scoring, "-c", "Release", "--", "missing.zip", "images"], RepoPaths.Root);
        Assert.Equal(2, code);
        Assert.Contains("No model at", output);
        Assert.DoesNotContain("   at ", output);

        // The image-file model asked to score IDX files says what it takes instead.
        (code, output) = ProcessRunner.TryRun("dotnet", ["run", "--project", scoring, "-c", "Release", "--no-build", "--", RepoPaths.ImageClassifierFixture, RepoPaths.Root], RepoPaths.Root);
        Assert.Equal(2, code);
        Assert.Contains("pass IDX files", output);
        Assert.DoesNotContain("   at ", output);

        (code, output) = ProcessRunner.TryRun("dotnet", ["run", "--project", scoring, "-c", "Release", "--no-build", "--", "missing.zip", "images", "--verbose"], RepoPaths.Root);
        Assert.Equal(2, code);
        Assert.Contains("   at ", output);

        // A port in use is a failure (1), named with its fix, without the host's stack trace.
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        int port = ((IPEndPoint)holder.LocalEndpoint).Port;
        string service = Path.Combine(RepoPaths.Root, "src", "Samples", "ScoringService", "ScoringService.csproj");
        (code, output) = ProcessRunner.TryRun("dotnet", ["run", "--project", service, "-c", "Release", "--no-build", "--",
            "--Model", RepoPaths.ImageClassifierFixture, "--urls", $"http://127.0.0.1:{port}"], RepoPaths.Root);
        Assert.Equal(1, code);
        Assert.Contains("address already in use", output);
        Assert.Contains("--urls", output);
        Assert.DoesNotContain("   at ", output);
    }

    // The command in the README's "## Commands" table whose first cell starts with what.
    private static string Command(string what)
    {
        string table = Readme.Text.Split("## Commands")[1].Split("\n## ")[0];
        var match = Regex.Match(table, $@"^\| {Regex.Escape(what)}[^|]*\| `(?<command>[^`]+)` \|", RegexOptions.Multiline);
        Assert.True(match.Success, $"README's command table has no row '{what}'.");
        return match.Groups["command"].Value;
    }

    // "dotnet run ..." as arguments of dotnet, with extra sample arguments after its "--".
    private static string[] Arguments(string command, string extra = "")
    {
        var words = command.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToList();
        Assert.Equal("dotnet", words[0]);
        if (extra.Length > 0)
        {
            if (!words.Contains("--")) words.Add("--");
            words.AddRange(extra.Split(' '));
        }
        return words.Skip(1).ToArray();
    }

    private static void ServeAndPredict(string root, string command)
    {
        int port = FreePort();
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string word in Arguments(PortPattern().Replace(command, $"127.0.0.1:{port}"))) info.ArgumentList.Add(word);
        using var service = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        service.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        service.ErrorDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
        service.BeginOutputReadLine();
        service.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            var deadline = DateTime.UtcNow + ProcessRunner.HangGuard; // the first dotnet run builds the service
            while (!Healthy(http))
            {
                Assert.False(service.HasExited, $"The service exited with {(service.HasExited ? service.ExitCode : 0)}:\n{output}");
                Assert.True(DateTime.UtcNow < deadline, $"The service did not answer /health in 5 minutes:\n{output}");
                Thread.Sleep(500);
            }
            string png = Directory.EnumerateFiles(Path.Combine(root, "artifacts", "image-classification", "test-images"), "*.png", SearchOption.AllDirectories).First();
            using var body = new ByteArrayContent(File.ReadAllBytes(png));
            body.Headers.ContentType = new("image/png");
            using var response = http.PostAsync("/predict", body).Result;
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var prediction = response.Content.ReadFromJsonAsync<Prediction>().Result!;
            Assert.Contains(prediction.Label, DatasetCatalog.FashionMnistClassNames);
        }
        finally
        {
            service.Kill(entireProcessTree: true);
            service.WaitForExit();
        }
    }

    private static bool Healthy(HttpClient http)
    {
        try { return http.GetAsync("/health").Result.IsSuccessStatusCode; }
        catch (AggregateException) { return false; }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    // A fresh copy as a clone has it: the files git tracks (and new files it does not ignore), nothing built.
    private static string CopyCheckout(string target)
    {
        string files = ProcessRunner.Run("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], RepoPaths.Root);
        foreach (string file in files.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            string source = Path.Combine(RepoPaths.Root, file);
            if (!File.Exists(source)) continue; // deleted in the working tree, not yet committed
            string destination = Path.Combine(target, file);
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(source, destination);
        }
        return target;
    }

    [GeneratedRegex(@"127\.0\.0\.1:\d+")]
    private static partial Regex PortPattern();

    private sealed record Prediction(string Label);
}
