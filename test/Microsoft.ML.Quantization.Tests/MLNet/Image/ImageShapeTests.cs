using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Microsoft.ML.Transforms.Image;
using SkiaSharp;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet.Image;

/// <summary>
/// Colour or grey images of any size from 16 to 224 through the library: image files of mixed sizes, resized and
/// extracted by the pipeline, a 3-bit network trained at C×H×W, saved, loaded, and scored by the packed runtime as it
/// scored before saving. The colour task (red, green, blue tints) is learnt only if the channels reach the network in
/// the order they were trained in; grey models see the tints' brightness.
/// </summary>
public class ImageShapeTests
{
    public static TheoryData<string, int, int, int> Shapes => new()
    {
        { "VggSmall", 3, 16, 16 },
        { "VggSmall", 1, 40, 40 },
        { "narrow VggSmall", 3, 224, 224 },
        { "ResNet20", 1, 16, 16 },
        { "ResNet20", 3, 48, 48 },
        { "custom", 3, 20, 36 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TrainsQuantizedSavesAndScoresTheSameAtAnyShape(string network, int channels, int height, int width)
    {
        using var temp = RepoPaths.TempDirectory();
        string images = temp.File("images");
        ColourImages.WriteClassFolders(images, perClass: 16, seed: height * 31 + width);
        var rows = ColourImages.Classes.SelectMany(label => Directory.EnumerateFiles(Path.Combine(images, label)).Order(StringComparer.Ordinal)
            .Select(file => new ColourImages.Row { Path = file, Label = label })).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var graph = network switch
        {
            "VggSmall" => NetworkGraphs.VggSmall(channels, height, ColourImages.Classes.Length),
            "narrow VggSmall" => NetworkGraphs.VggSmall(channels, height, ColourImages.Classes.Length, widths: new[] { 4, 4, 8, 8, 8, 8 }),
            "ResNet20" => NetworkGraphs.ResNet20(channels, height, ColourImages.Classes.Length),
            _ => new NetworkGraphBuilder(channels, height, width).Conv2d("conv1", 8, kernel: 3, padding: 1).BatchNorm("bn1").ReLU("relu1").MaxPool("pool1", 2)
                .Conv2d("conv2", 16, kernel: 3, stride: 2).BatchNorm("bn2").ReLU("relu2").GlobalAvgPool("gap").Linear("fc", ColourImages.Classes.Length).Build(),
        };
        var loaded = ml.Transforms.LoadImages("Image", null, nameof(ColourImages.Row.Path)).Append(ml.Transforms.ResizeImages("Image", width, height));
        var pixels = channels == 3
            ? loaded.Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Rgb))
            : loaded.Append(ml.Transforms.ConvertToGrayscale("Image")).Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Red));
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(pixels)
            .Append(ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
            {
                FeatureColumnName = "Pixels", ImageShape = new[] { channels, height, width }, Graph = graph, Epochs = 4, BatchSize = 8, LearningRate = 3e-3,
                Quantization = new QagOptions { Weights = new(QuantizationScheme.PotQ, 3, QuantizationGranularity.PerOutputChannel), Activations = new(QuantizationScheme.ClipQ, 3) },
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"))
            .Fit(data);
        var classifier = model.OfType<ImageClassifierTransformer>().Single();
        Assert.Equal(new[] { channels, height, width }, classifier.Graph.InputShape);
        Assert.True(classifier.Graph.IsQuantized);

        var scored = ml.Data.CreateEnumerable<ColourImages.Prediction>(model.Transform(data), reuseRowObject: false).ToList();
        double accuracy = scored.Zip(rows).Count(p => p.First.PredictedClass == p.Second.Label) / (double)rows.Count;
        Assert.True(accuracy >= 0.9, $"{network} {channels}×{height}×{width}: training accuracy {accuracy:P1}");

        string path = temp.File("model.zip");
        ml.Model.Save(model, data.Schema, path);
        var fresh = new MLContext();
        fresh.ComponentCatalog.RegisterQuantization();
        var reloaded = fresh.Data.CreateEnumerable<ColourImages.Prediction>(fresh.Model.Load(path, out _).Transform(fresh.Data.LoadFromEnumerable(rows)), reuseRowObject: false).ToList();
        foreach (var (before, after) in scored.Zip(reloaded))
        {
            Assert.Equal(before.PredictedClass, after.PredictedClass);
            for (int k = 0; k < before.Score.Length; k++) Assert.Equal(before.Score[k], after.Score[k], 4);
        }
    }
}
