using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Microsoft.ML.Transforms.Image;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet.Image;

/// <summary>A quantized classifier inside a chain with ImageAnalytics transforms round-trips through Model.Save/Load.</summary>
public class ImageAnalyticsChainTests
{
    public class ImageFile
    {
        public string Path { get; set; } = "";
        public string Label { get; set; } = "";
    }

    public class Prediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public uint PredictedLabel { get; set; }
    }

    [Fact]
    public void QuantizedClassifierAfterLoadResizeExtractRoundTrips()
    {
        using var temp = RepoPaths.TempDirectory();
        var ml = new MLContext(seed: 1);
        var images = ml.Data.TakeRows(ml.Data.LoadFromIdxImages(RepoPaths.Subset("fashion-mnist", "t10k-images-idx3-ubyte.gz"),
            RepoPaths.Subset("fashion-mnist", "t10k-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames), 60);
        var files = images.GetColumn<float[]>(DatasetCatalog.PixelsColumn).Zip(images.GetColumn<string>(DatasetCatalog.LabelColumn)).Select((row, i) =>
        {
            // Grey pixels as opaque BGRA, written as a 32×32 PNG so that ResizeImages has work to do.
            var bgra = new byte[32 * 32 * 4];
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++)
                {
                    byte v = y < 28 && x < 28 ? (byte)row.First[y * 28 + x] : (byte)0;
                    int at = 4 * (y * 32 + x);
                    bgra[at] = bgra[at + 1] = bgra[at + 2] = v;
                    bgra[at + 3] = 255;
                }
            using var image = MLImage.CreateFromPixels(32, 32, MLPixelFormat.Bgra32, bgra);
            string name = $"{i:D3}.png";
            image.Save(temp.File(name));
            return new ImageFile { Path = name, Label = row.Second };
        }).ToList();
        var data = ml.Data.LoadFromEnumerable(files);

        var graph = Qag.Prepare(new NetworkGraphBuilder(1, 28, 28).Conv2d("conv", 4, kernel: 3, padding: 1).ReLU("relu").MaxPool("pool", 2).Flatten("flat").Linear("fc", 10).Build());
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", temp.Path, nameof(ImageFile.Path)))
            .Append(ml.Transforms.ResizeImages("Image", 28, 28))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Red))
            .Append(ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { FeatureColumnName = "Pixels", Graph = graph, Epochs = 1 }))
            .Fit(data);
        string path = temp.File("model.zip");
        ml.Model.Save(model, data.Schema, path);

        var fresh = new MLContext();
        fresh.ComponentCatalog.RegisterQuantization();
        var loaded = fresh.Model.Load(path, out var schema);
        Assert.NotNull(schema.GetColumnOrNull(nameof(ImageFile.Path)));
        var before = ml.Model.CreatePredictionEngine<ImageFile, Prediction>(model);
        var after = fresh.Model.CreatePredictionEngine<ImageFile, Prediction>(loaded);
        foreach (var file in files.Take(10))
        {
            var expected = before.Predict(file);
            var actual = after.Predict(file);
            Assert.Equal(expected.Score, actual.Score);
            Assert.Equal(expected.PredictedLabel, actual.PredictedLabel);
            Assert.InRange(actual.PredictedLabel, 1u, 10u);
        }
    }
}
