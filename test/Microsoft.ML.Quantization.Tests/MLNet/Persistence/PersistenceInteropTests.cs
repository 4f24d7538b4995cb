using System.IO.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization.MLNet.Classifiers;
using Microsoft.ML.Quantization.MLNet.Persistence;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet.Persistence;

/// <summary>
/// The persistence bridge: a stateful transformer from outside ML.NET saved inside a chain with built-in
/// transforms, loaded in a fresh MLContext after one registration call, scoring bit for bit the same.
/// </summary>
public class PersistenceInteropTests
{
    private const int Width = 6;

    static PersistenceInteropTests() => ModelLoader.RegisterKind(ScaleTransformer.Kind, ScaleTransformer.Load);

    // The version this test run was built for (-p:MLNetVersion, written into the test assembly by the csproj).
    [Fact]
    public void RunsOnTheMLNetVersionItWasBuiltFor()
    {
        MLNetPersistenceInterop.EnsureSupported();
        string built = typeof(PersistenceInteropTests).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "MLNetVersion").Value!;
        Assert.Equal(built, MLNetPersistenceInterop.RunningVersion);
        Assert.Contains(built, MLNetPersistenceInterop.SupportedVersions);
    }

    [Theory]
    [InlineData("4.0.2")]
    [InlineData("5.0.0")]
    [InlineData("6.0.1")]
    [InlineData("unknown")]
    public void AnUntestedMLNetVersionIsRefusedNamingTheSupportedOnes(string version)
    {
        var error = Assert.Throws<NotSupportedException>(() => MLNetPersistenceInterop.EnsureSupportedVersion(version));
        Assert.Contains(version, error.Message);
        Assert.Contains("5.0.1 and 6.0.0", error.Message);
    }

    [Fact]
    public void StatefulTransformerRoundTripsInsideAChainBitForBit()
    {
        using var temp = RepoPaths.TempDirectory();
        var ml = new MLContext(seed: 1);
        var data = Data(ml);
        var chain = ml.Transforms.NormalizeMinMax("Features").Fit(data).Append(new ScaleTransformer(new[] { 1.5f, -2f, 0.25f, 3f, 1e-3f, 7f }));
        string path = temp.File("model.zip");
        ml.Model.Save(chain, data.Schema, path);

        var fresh = new MLContext();
        fresh.ComponentCatalog.RegisterQuantization();
        var loaded = fresh.Model.Load(path, out var schema);
        Assert.Equal(data.Schema["Features"].Type, schema["Features"].Type);

        var before = ml.Model.CreatePredictionEngine<Row, Scaled>(chain);
        var after = fresh.Model.CreatePredictionEngine<Row, Scaled>(loaded);
        foreach (var row in Rows())
        {
            Assert.Equal(before.Predict(row).Output, after.Predict(row).Output);
        }
        Assert.Equal(
            chain.Transform(data).GetColumn<float[]>("Output").SelectMany(v => v),
            loaded.Transform(data).GetColumn<float[]>("Output").SelectMany(v => v));
    }

    [Fact]
    public void LoadingWithoutRegistrationFails()
    {
        using var temp = RepoPaths.TempDirectory();
        var ml = new MLContext();
        var data = Data(ml);
        string path = temp.File("model.zip");
        ml.Model.Save(new ScaleTransformer(Enumerable.Repeat(1f, Width).ToArray()), data.Schema, path);
        Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(path, out _));
    }

    [Fact]
    public void CorruptedPayloadIsInvalidDataNamingTheChecksum()
    {
        using var temp = RepoPaths.TempDirectory();
        var ml = new MLContext();
        var data = Data(ml);
        string path = temp.File("model.zip");
        ml.Model.Save(new ScaleTransformer(Enumerable.Range(0, Width).Select(i => (float)i).ToArray()), data.Schema, path);
        using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
        {
            var entry = zip.Entries.Single(e => e.FullName.EndsWith("Model.key", StringComparison.Ordinal));
            byte[] bytes;
            using (var stream = entry.Open()) { using var copy = new MemoryStream(); stream.CopyTo(copy); bytes = copy.ToArray(); }
            int at = bytes.AsSpan().IndexOf("MLQP"u8);
            Assert.True(at > 0);
            bytes[at + 40] ^= 0xff; // inside the state, before the hash
            string name = entry.FullName;
            entry.Delete();
            using var rewritten = zip.CreateEntry(name).Open();
            rewritten.Write(bytes);
        }
        var fresh = new MLContext();
        fresh.ComponentCatalog.RegisterQuantization();
        var error = Assert.ThrowsAny<Exception>(() => fresh.Model.Load(path, out _));
        var invalid = Unwrap<InvalidDataException>(error);
        Assert.Contains("checksum", invalid.Message);
    }

    private static T Unwrap<T>(Exception error) where T : Exception
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            if (e is T match) return match;
        }
        throw new Xunit.Sdk.XunitException($"Expected a {typeof(T).Name} inside {error}");
    }

    private static IEnumerable<Row> Rows() => Enumerable.Range(0, 20).Select(i => new Row
    {
        Features = Enumerable.Range(0, Width).Select(j => MathF.Sin(i * 7 + j * 3) * (j + 1)).ToArray(),
    });

    private static IDataView Data(MLContext ml) => ml.Data.LoadFromEnumerable(Rows());

    public sealed class Row
    {
        [VectorType(Width)] public float[] Features { get; set; } = Array.Empty<float>();
    }

    public sealed class Scaled
    {
        public float[] Output { get; set; } = Array.Empty<float>();
    }

    /// <summary>A minimal stateful transformer: Output = Features ⊙ weights.</summary>
    private sealed class ScaleTransformer : QuantizationTransformerBase
    {
        public const string Kind = "Test.Scale";
        private readonly float[] weights;

        public ScaleTransformer(float[] weights)
            : base(ColumnMapping.Vector("Features", weights.Length, "Output", weights.Length, (x, y) =>
            {
                for (int i = 0; i < y.Length; i++) y[i] = x[i] * weights[i];
            }))
        {
            this.weights = weights;
        }

        private protected override string PayloadKind => Kind;

        private protected override void WriteState(BinaryWriter writer)
        {
            writer.Write(weights.Length);
            foreach (float w in weights) writer.Write(w);
        }

        public static ITransformer Load(BinaryReader reader, ushort version)
        {
            int count = reader.ReadInt32();
            if (count is < 1 or > 1024) throw new InvalidDataException($"Bad weight count {count}.");
            return new ScaleTransformer(Enumerable.Range(0, count).Select(_ => reader.ReadSingle()).ToArray());
        }
    }
}
