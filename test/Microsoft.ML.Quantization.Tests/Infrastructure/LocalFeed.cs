using System.Xml.Linq;

namespace Microsoft.ML.Quantization.Tests.Infrastructure;

/// <summary>
/// Our packages as a new user gets them: packed into a local folder feed, with a NuGet.config that reads it first, and
/// fresh <c>dotnet new console</c> apps that install from it.
/// </summary>
internal static class LocalFeed
{
    /// <summary>Packs the library as the test run built it (no second build) into <paramref name="feed"/>; returns the .nupkg.</summary>
    public static string PackLibrary(string feed)
    {
        ProcessRunner.Run("dotnet", ["pack", Path.Combine(RepoPaths.Source("Microsoft.ML.Quantization"), "Microsoft.ML.Quantization.csproj"), "-c", "Release", "--no-build", "-o", feed]);
        return Directory.GetFiles(feed, "Microsoft.ML.Quantization.*.nupkg").Single(f => !f.Contains(".Tool.", StringComparison.Ordinal));
    }

    /// <summary>The library package's version, from its file name.</summary>
    public static string Version(string package) => Path.GetFileNameWithoutExtension(package)["Microsoft.ML.Quantization.".Length..];

    /// <summary>
    /// Writes a NuGet.config into <paramref name="directory"/>: the feed first, then the registry the repository
    /// restores from; a private global packages folder, so our packages are extracted fresh, over the user's cache as a
    /// read-only fallback, so nothing else is downloaded again.
    /// </summary>
    public static void WriteNuGetConfig(string directory, string feed, string packages)
    {
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var repository = XDocument.Load(Path.Combine(RepoPaths.Root, "NuGet.config"));
        var sources = repository.Root!.Element("packageSources")!;
        sources.Element("clear")!.AddAfterSelf(new XElement("add", new XAttribute("key", "local"), new XAttribute("value", feed)));
        repository.Root.Add(
            new XElement("config", new XElement("add", new XAttribute("key", "globalPackagesFolder"), new XAttribute("value", packages))),
            new XElement("fallbackPackageFolders", new XElement("clear"), new XElement("add", new XAttribute("key", "cache"), new XAttribute("value", cache))));
        repository.Save(Path.Combine(directory, "NuGet.config"));
    }

    /// <summary>
    /// A console app <paramref name="name"/> under <paramref name="root"/> (which holds the NuGet.config) with the library
    /// at <paramref name="version"/> and <paramref name="packages"/>, <paramref name="program"/> as its Program.cs and
    /// <paramref name="sources"/> (file name, code) beside it, built; returns its folder.
    /// </summary>
    public static string NewConsole(string root, string name, string program, string version, IEnumerable<string> packages, params (string File, string Code)[] sources)
    {
        string app = Path.Combine(root, name);
        ProcessRunner.Run("dotnet", ["new", "console", "-o", app, "--force"]);
        ProcessRunner.Run("dotnet", ["add", "package", "Microsoft.ML.Quantization", "--version", version], app);
        foreach (string extra in packages) ProcessRunner.Run("dotnet", ["add", "package", extra], app);
        File.WriteAllText(Path.Combine(app, "Program.cs"), program);
        foreach (var (file, code) in sources) File.WriteAllText(Path.Combine(app, file), code);
        ProcessRunner.Run("dotnet", ["build", "-c", "Release"], app);
        return app;
    }
}
