using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet.Image;

public class ImageClassifierTests
{
    private static (MLContext Ml, IDataView Train, IDataView Test) Data(int trainCount)
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.TakeRows(ml.Data.LoadFromIdxImages(RepoPaths.Subset("fashion-mnist", "train-images-idx3-ubyte.gz"),
            RepoPaths.Subset("fashion-mnist", "train-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames), trainCount);
        var test = ml.Data.LoadFromIdxImages(RepoPaths.Subset("fashion-mnist", "t10k-images-idx3-ubyte.gz"),
            RepoPaths.Subset("fashion-mnist", "t10k-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames);
        return (ml, train, test);
    }

    private static ImageClassifierOptions Options(QagOptions? quantization = null) => new()
    {
        FeatureColumnName = DatasetCatalog.PixelsColumn,
        Graph = NetworkGraphs.LeNet5(),
        Epochs = 2,
        LearningRate = 2e-3,
        Quantization = quantization,
    };

    public class Prediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public string PredictedClass { get; set; } = "";
    }

    public class Image
    {
        [VectorType(784)] public float[] Pixels { get; set; } = Array.Empty<float>();
        public string Label { get; set; } = "";
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TrainsEvaluatesAndRoundTripsThroughModelSaveAndLoad(bool quantized)
    {
        var (ml, train, test) = Data(2000);
        var quantization = quantized ? new QagOptions { Weights = new(QuantizationScheme.PotQ, 3, QuantizationGranularity.PerOutputChannel), Activations = new(QuantizationScheme.ClipQ, 3) } : null;
        var logged = new List<string>();
        ml.Log += (_, e) => logged.Add(e.Message);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.ImageClassifier(Options(quantization)))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"));
        var model = pipeline.Fit(train);

        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        Assert.True(metrics.MacroAccuracy > (quantized ? 0.45 : 0.6), $"accuracy {metrics.MacroAccuracy:P1}");
        Assert.Contains(logged, m => m.Contains("epoch 2/2"));
        var classifier = model.OfType<ImageClassifierTransformer>().Single();
        Assert.Equal(quantized, classifier.Graph.IsQuantized);

        using var temp = RepoPaths.TempDirectory();
        string path = temp.File("model.zip");
        ml.Model.Save(model, train.Schema, path);
        var fresh = new MLContext();
        fresh.ComponentCatalog.RegisterQuantization();
        var loaded = fresh.Model.Load(path, out _);

        var before = ml.Model.CreatePredictionEngine<Image, Prediction>(model);
        var after = fresh.Model.CreatePredictionEngine<Image, Prediction>(loaded);
        var keys = model.Transform(test).GetColumn<uint>("PredictedLabel").Zip(model.Transform(test).GetColumn<float[]>("Score"));
        Assert.All(keys, k => Assert.Equal(Array.IndexOf(k.Second, k.Second.Max()) + 1, (int)k.First)); // key = argmax + 1
        foreach (var image in ml.Data.CreateEnumerable<Image>(test, reuseRowObject: false).Take(50))
        {
            var expected = before.Predict(image);
            var actual = after.Predict(image);
            Assert.Equal(expected.Score, actual.Score);
            Assert.Equal(expected.PredictedClass, actual.PredictedClass);
            Assert.Contains(actual.PredictedClass, DatasetCatalog.FashionMnistClassNames);
        }
    }

    [Fact]
    public void WrongColumnsAndShapesGiveErrorsNamingThem()
    {
        var (ml, train, _) = Data(200);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train).Transform(train);
        var missing = new ImageClassifierOptions { FeatureColumnName = "Nope", Graph = NetworkGraphs.LeNet5(), Epochs = 1 };
        Assert.Contains("'Nope'", Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(missing).Fit(keyed)).Message);
        var stringLabel = new ImageClassifierOptions { FeatureColumnName = DatasetCatalog.PixelsColumn, Graph = NetworkGraphs.LeNet5(), Epochs = 1 };
        Assert.Contains("key", Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(stringLabel).Fit(train)).Message);
        var wrongShape = new ImageClassifierOptions { FeatureColumnName = DatasetCatalog.PixelsColumn, ImageShape = new[] { 3, 32, 32 }, Epochs = 1 };
        Assert.Contains("784", Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(wrongShape).Fit(keyed)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { Epochs = -1 }));
    }
}
