using System.IO.Compression;
using System.Xml.Linq;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Package;

/// <summary>
/// The library as a new user installs it: packed, added from a local folder feed to fresh <c>dotnet new console</c>
/// apps in a temp directory, the README's code samples compiled as written. One app adds TorchSharp-cpu, trains
/// on a small slice of the committed subset, saves, reloads and predicts; a second adds only the package, loads
/// that model.zip and predicts, with no libtorch in its output.
/// </summary>
public class PackageInstallTests
{
    private const int TrainingImages = 384;

    [Fact]
    public void PackageCarriesItsMetadataDocsSymbolsAndOnlyTheManagedDependencies()
    {
        using var temp = RepoPaths.TempDirectory();
        string package = LocalFeed.PackLibrary(temp.File("feed"));
        Assert.True(File.Exists(Path.ChangeExtension(package, ".snupkg")), "no .snupkg beside the .nupkg");
        using var zip = ZipFile.OpenRead(package);
        var nuspec = XDocument.Load(zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open());
        XNamespace ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")?.Value));
        Assert.Equal("MIT", metadata.Element(ns + "license")?.Value);
        Assert.Equal("README.md", metadata.Element(ns + "readme")?.Value);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "releaseNotes")?.Value));
        Assert.StartsWith("https://", metadata.Element(ns + "repository")?.Attribute("url")?.Value);
        Assert.Contains("QuantizeAutomatically", new StreamReader(zip.GetEntry("README.md")!.Open()).ReadToEnd());
        Assert.NotNull(zip.GetEntry("lib/net10.0/Microsoft.ML.Quantization.xml"));
        Assert.NotNull(zip.GetEntry("buildTransitive/Microsoft.ML.Quantization.targets"));
        var dependencies = metadata.Descendants(ns + "dependency").Select(d => (string)d.Attribute("id")!).Order().ToArray();
        // Google.Protobuf reads and writes ONNX; System.Numerics.Tensors runs element-wise scoring steps; Grpc.Tools (protoc) stays private.
        Assert.Equal(new[] { "Google.Protobuf", "Microsoft.ML", "System.Numerics.Tensors", "TorchSharp" }, dependencies);
        Assert.Contains("Native", (string)metadata.Descendants(ns + "dependency").Single(d => (string)d.Attribute("id")! == "TorchSharp").Attribute("exclude")!);
    }

    [Fact]
    public void ReadmeSamplesTrainInOneFreshAppScoreInAnotherWithThePackageAloneAndImportOnnxInAThird()
    {
        using var temp = RepoPaths.TempDirectory();
        string version = LocalFeed.Version(LocalFeed.PackLibrary(temp.File("feed")));
        LocalFeed.WriteNuGetConfig(temp.Path, temp.File("feed"), temp.File("packages"));

        string trainer = LocalFeed.NewConsole(temp.Path, "trainer", Readme.Sample("train"), version, ["TorchSharp-cpu"]);
        Assert.True(Directory.Exists(Path.Combine(temp.File("packages"), "microsoft.ml.quantization", version)),
            "the package was not restored from the fresh feed (a stale copy in a fallback folder would hide a broken package)");
        WriteSubsetSlice(trainer);
        string trained = ProcessRunner.Run("dotnet", ["run", "-c", "Release", "--no-build"], trainer);
        Assert.Contains("Average bits", trained, StringComparison.OrdinalIgnoreCase);
        Assert.Matches(@"(?m)^\d+\s*$", trained); // the predicted label's key
        Assert.True(File.Exists(Path.Combine(trainer, "model.zip")));

        string scorer = LocalFeed.NewConsole(temp.Path, "scorer", Readme.Sample("score"), version, []);
        File.Copy(Path.Combine(trainer, "model.zip"), Path.Combine(scorer, "model.zip"));
        string scored = ProcessRunner.Run("dotnet", ["run", "-c", "Release", "--no-build"], scorer);
        Assert.Matches(@"(?m)^\d+\s*$", scored);
        var natives = Directory.EnumerateFiles(Path.Combine(scorer, "bin"), "*", SearchOption.AllDirectories).Select(Path.GetFileName)
            .Where(f => f!.StartsWith("libtorch", StringComparison.Ordinal) || f.StartsWith("libLibTorchSharp", StringComparison.Ordinal) || f.StartsWith("libc10", StringComparison.Ordinal))
            .ToList();
        Assert.Empty(natives);

        // A CNN PyTorch trained (Fixtures/onnx/make_pytorch_fixtures.py) in, quantized to 2 bits, saved and exported back out.
        string importer = LocalFeed.NewConsole(temp.Path, "importer", Readme.Sample("import"), version, ["TorchSharp-cpu"]);
        WriteSubsetSlice(importer);
        File.Copy(RepoPaths.Fixture("onnx/pytorch-fashion-cnn-opset17.onnx"), Path.Combine(importer, "model.onnx"));
        string imported = ProcessRunner.Run("dotnet", ["run", "-c", "Release", "--no-build"], importer);
        Assert.Contains("Average bits", imported, StringComparison.OrdinalIgnoreCase);
        Assert.True(File.Exists(Path.Combine(importer, "model.zip")));
        Assert.True(new FileInfo(Path.Combine(importer, "quantized.onnx")).Length > 0);
    }

    // The README trains on data/subset/fashion-mnist relative to the app: the first TrainingImages of the committed
    // subset, so that its default epochs finish in about a minute.
    private static void WriteSubsetSlice(string app)
    {
        string directory = Path.Combine(app, "data", "subset", "fashion-mnist");
        Directory.CreateDirectory(directory);
        foreach (var (file, header, recordBytes) in new[] { ("train-images-idx3-ubyte.gz", 16, 784), ("train-labels-idx1-ubyte.gz", 8, 1) })
        {
            using var source = new GZipStream(File.OpenRead(RepoPaths.Subset("fashion-mnist", file)), CompressionMode.Decompress);
            var bytes = new byte[header + TrainingImages * recordBytes];
            source.ReadExactly(bytes);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), TrainingImages);
            using var target = new GZipStream(File.Create(Path.Combine(directory, file)), CompressionLevel.Fastest);
            target.Write(bytes);
        }
    }
}
