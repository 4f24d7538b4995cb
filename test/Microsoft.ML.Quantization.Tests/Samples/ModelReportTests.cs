using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Samples;

/// <summary>
/// The samples' report: report.json round-trips, and <see cref="ModelReport"/> draws every PNG and a report.md that
/// embeds them, in the process that loaded images through ImageAnalytics (both on SkiaSharp 3).
/// </summary>
public class ModelReportTests
{
    private static SampleReport Report()
    {
        var weights = new QuantizerSpec(QuantizationScheme.ClipQ, 2, QuantizationGranularity.PerOutputChannel);
        var candidates = new[] { new QuantizerSpec(QuantizationScheme.ClipQ, 3), new QuantizerSpec(QuantizationScheme.PotQ, 3) };
        var quantization = new QuantizationReport
        {
            Layers = new[]
            {
                new LayerQuantization("conv1", new QuantizerSpec(QuantizationScheme.FixedQ, 8), 288, 288, null, 784),
                new LayerQuantization("conv2", weights, 9216, 2304, new QuantizerSpec(QuantizationScheme.PotQ, 2), 25088),
            },
            AverageWeightBits = 2.19, AverageActivationBits = 2.4, TargetWeightBits = 2, TargetActivationBits = 2,
            SchemeHistory = new[] { 1, 2 }.SelectMany(e => new[] { new SchemeProbabilities(e, "conv2.weight", candidates, new[] { 0.7, 0.3 }), new SchemeProbabilities(e, "conv2.q0", candidates, new[] { 0.2, 0.8 }) }).ToList(),
            BitHistory = new[] { new LearnedBits(1, "conv2.weight", 2.6), new LearnedBits(2, "conv2.weight", 2.1), new LearnedBits(1, "conv2.q0", 2.9), new LearnedBits(2, "conv2.q0", 2.4) },
            Stages = new[] { new StageRecord("FP32 training", 2, 10), new StageRecord("QSS", 2, 25) },
        };
        return new SampleReport("A test run", "dotnet run", 75, new[]
        {
            new ConfigurationResult("FP32", 0.9, 32, 32, 1_000_000, 1.5),
            new ConfigurationResult("auto W2.19/A2.40", 0.88, 2.19, 2.4, 90_000, 0.9),
        }, quantization);
    }

    [Fact]
    public void ReportJsonRoundTrips()
    {
        using var temp = RepoPaths.TempDirectory();
        var report = Report();
        var read = SampleReport.Read(report.Write(temp.Path));
        Assert.Equal(report.Results, read.Results);
        Assert.Equal(report.Quantization.Layers, read.Quantization.Layers);
        Assert.Equal(report.Quantization.BitHistory, read.Quantization.BitHistory);
        Assert.Equal(report.Quantization.SchemeHistory.SelectMany(h => h.Probabilities), read.Quantization.SchemeHistory.SelectMany(h => h.Probabilities));
        Assert.Contains("\"PotQ\"", File.ReadAllText(temp.File("report.json")));
    }

    [Fact]
    public void DrawsEveryFigureAndAMarkdownReportThatEmbedsThemBesideImageAnalytics()
    {
        using var temp = RepoPaths.TempDirectory();
        // ImageAnalytics decodes a PNG with SkiaSharp first, then ScottPlot draws with it in the same process.
        using (var bitmap = new SkiaSharp.SKBitmap(8, 8))
        using (var file = File.Create(temp.File("dot.png")))
            bitmap.Encode(file, SkiaSharp.SKEncodedImageFormat.Png, 100);
        var ml = new MLContext();
        var images = ml.Transforms.LoadImages("Image", temp.Path, "Path").Append(ml.Transforms.ResizeImages("Image", 8, 8)).Append(ml.Transforms.ExtractPixels("Pixels", "Image"))
            .Fit(ml.Data.LoadFromEnumerable(new[] { new ImagePath() })).Transform(ml.Data.LoadFromEnumerable(new[] { new ImagePath() }));
        Assert.Equal(3 * 8 * 8, images.GetColumn<float[]>("Pixels").Single().Length);

        string markdown = File.ReadAllText(ModelReport.Write(Report(), temp.Path));
        var figures = new[] { "scheme-probabilities.png", "learned-bits.png", "layer-bits.png", "accuracy-vs-bits.png", "size-vs-latency.png" };
        foreach (string figure in figures)
        {
            Assert.Contains($"]({figure})", markdown);
            var bytes = File.ReadAllBytes(temp.File(figure));
            Assert.True(bytes.Length > 5000, $"{figure}: {bytes.Length} bytes");
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        }
        Assert.Contains("| auto W2.19/A2.40 | 88.00 % |", markdown);
        Assert.Contains("| conv2 | ClipQ-2 | 9,216 | 97.0 % | 2,304 | PotQ-2 | 25,088 |", markdown);
        Assert.Contains("Bits: target W2.00/A2.00, achieved W2.19/A2.40", markdown);
    }

    private sealed class ImagePath
    {
        public string Path { get; set; } = "dot.png";
    }
}
