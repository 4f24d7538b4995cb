using System.Runtime.InteropServices;
using Microsoft.ML.Quantization.Tests.Infrastructure;

namespace Microsoft.ML.Quantization.Tests.Tools;

/// <summary>
/// <c>mlquant</c> as a user installs it, by the README's lines: the tool packed into a local folder feed (for this
/// platform only, and under its own artifacts folder, as the test run's build output is in use) and installed with
/// <c>dotnet tool install</c> (into a folder, <c>--tool-path</c>, not <c>--global</c>); the library packed beside it, and
/// a NuGet.config from which fresh apps take it. Shared by the tests of one class, removed after them.
/// </summary>
public sealed class InstalledMlquant : IDisposable
{
    private readonly TempDirectory temp = RepoPaths.TempDirectory();

    /// <summary>Packs and installs.</summary>
    public InstalledMlquant()
    {
        string feed = temp.File("feed"), artifacts = temp.File("artifacts");
        Version = LocalFeed.Version(LocalFeed.PackLibrary(feed));
        string[] pack = ReadmeLine("dotnet", "pack"), install = ReadmeLine("dotnet", "tool");
        ProcessRunner.Run("dotnet", Feed(pack, feed).Concat(["--artifacts-path", artifacts, $"-p:ToolPackageRuntimeIdentifiers={RuntimeInformation.RuntimeIdentifier}"]),
            RepoPaths.Root);
        Directory.Delete(artifacts, recursive: true); // the tool's build for its package: a gigabyte with libtorch
        LocalFeed.WriteNuGetConfig(temp.Path, feed, temp.File("packages"));
        ProcessRunner.Run("dotnet", Feed(install, feed).SelectMany(w => w == "--global" ? ["--tool-path", temp.File("tools")] : new[] { w }), temp.Path);
        Command = Path.Combine(temp.File("tools"), OperatingSystem.IsWindows() ? "mlquant.exe" : "mlquant");
    }

    /// <summary>The installed command.</summary>
    public string Command { get; }

    /// <summary>The packages' version.</summary>
    public string Version { get; }

    /// <summary>A folder under the NuGet.config, for fresh apps.</summary>
    public string Root => temp.Path;

    /// <summary>
    /// The words after the first of the README's line in the <c>mlquant</c> block that starts with <paramref name="program"/>
    /// <paramref name="verb"/>, with its placeholders replaced (<c>DIR</c> by <paramref name="dataset"/>).
    /// </summary>
    public static string[] ReadmeLine(string program, string verb, string? dataset = null)
    {
        var line = Readme.Sample("mlquant").Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .FirstOrDefault(w => w.Length > 1 && w[0] == program && w[1] == verb)
            ?? throw new InvalidDataException($"README's mlquant block has no line '{program} {verb} ...'.");
        return line.Skip(1).Select(w => w == "DIR" && dataset is not null ? dataset : w).ToArray();
    }

    /// <inheritdoc/>
    public void Dispose() => temp.Dispose();

    // The README's relative feed folder, here the fixture's.
    private static IEnumerable<string> Feed(string[] words, string feed) => words.Select(w => w == "feed" ? feed : w);
}
