using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Microsoft.ML.Quantization.Training;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet.Onnx;

/// <summary>
/// <c>mlContext.Quantization().ImportOnnx</c> as a user calls it: an ONNX file in, a classifier that scores like the model
/// that wrote it, quantizes with <c>targetBits: 2</c>, saves, loads and exports back to ONNX.
/// </summary>
public class OnnxImportCatalogTests
{
    [Fact]
    public void AnImportedModelScoresLikeItsSourceQuantizesToTwoBitsAndRoundTrips()
    {
        var (ml, train, test) = SubsetData.FashionMnist(600);
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train);
        var trainKeys = keyed.Transform(train);
        var testKeys = keyed.Transform(test);
        var source = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
        {
            FeatureColumnName = DatasetCatalog.PixelsColumn, Graph = NetworkGraphs.LeNet5(), Epochs = 2, LearningRate = 2e-3,
        }).Fit(trainKeys);
        using var temp = RepoPaths.TempDirectory();
        using (var file = File.Create(temp.File("lenet5.onnx"))) source.ExportToOnnx(file);

        var imported = ml.Quantization().ImportOnnx(temp.File("lenet5.onnx"), new OnnxImportOptions
        {
            FeatureColumnName = DatasetCatalog.PixelsColumn, ClassNames = source.ClassNames,
        });

        var classifier = Assert.IsType<ImageClassifierTransformer>(imported);
        Assert.Equal(source.PixelScale, classifier.PixelScale); // the export's input Mul, folded back
        Assert.Null(classifier.QuantizationReport);
        var expected = source.Transform(testKeys).GetColumn<float[]>("Score").ToArray();
        var actual = imported.Transform(testKeys).GetColumn<float[]>("Score").ToArray();
        for (int i = 0; i < expected.Length; i++)
            for (int j = 0; j < expected[i].Length; j++) Assert.Equal(expected[i][j], actual[i][j], 5);

        var options = new AutoQuantizationOptions
        {
            SearchEpochs = 1, PrecisionEpochs = 1, FineTuneEpochs = 1, TargetActivationBits = 3.5,
            Training = new TrainingOptions { LearningRate = 5e-4, BatchSize = 64 },
        };
        var quantized = (ImageClassifierTransformer)ml.Quantization().QuantizeAutomatically(imported, trainKeys, targetBits: 2, options);
        var report = quantized.QuantizationReport!;
        Assert.InRange(report.AverageWeightBits, 1.9, 2 + 1e-9);
        var accuracy = ml.MulticlassClassification.Evaluate(quantized.Transform(testKeys)).MicroAccuracy;
        Assert.True(accuracy > 0.4, $"accuracy {accuracy:P1}");

        ml.Model.Save(quantized, trainKeys.Schema, temp.File("model.zip"));
        var fresh = new MLContext();
        fresh.ComponentCatalog.RegisterQuantization();
        var loaded = fresh.Model.Load(temp.File("model.zip"), out _);
        Assert.Equal(quantized.Transform(testKeys).GetColumn<float[]>("Score").SelectMany(s => s), loaded.Transform(testKeys).GetColumn<float[]>("Score").SelectMany(s => s));
        using var onnx = new MemoryStream();
        ((ImageClassifierTransformer)loaded).ExportToOnnx(onnx);
        Assert.True(onnx.Length > 0);
    }

    [Fact]
    public void LabelsInAnotherOrderThanTheImportedClassesAreRefusedBeforeTraining()
    {
        var (ml, train, _) = SubsetData.FashionMnist(200);
        var trainKeys = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train).Transform(train);
        using var temp = RepoPaths.TempDirectory();
        File.WriteAllBytes(temp.File("model.onnx"), Serialization.OnnxTestModels.MlpOpset13().Bytes);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Quantization().ImportOnnx(temp.File("model.onnx"), new OnnxImportOptions { ClassNames = new[] { "a", "b" } }));
        Assert.Contains("name 2 classes; the network outputs 4", error.Message);

        var graph = new NetworkGraphBuilder(1, 28, 28).Flatten("flat").Linear("fc", 10).Build();
        var model = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { FeatureColumnName = DatasetCatalog.PixelsColumn, Graph = graph, Epochs = 1 }).Fit(trainKeys);
        using (var file = File.Create(temp.File("linear.onnx"))) model.ExportToOnnx(file);
        var reversed = ml.Quantization().ImportOnnx(temp.File("linear.onnx"), new OnnxImportOptions { FeatureColumnName = DatasetCatalog.PixelsColumn, ClassNames = model.ClassNames.Reverse().ToArray() });
        var refused = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Quantization().QuantizeAutomatically(reversed, trainKeys, 2));
        Assert.Contains("map the labels to keys in the classifier's order", refused.Message);
    }

    [Fact]
    public void ATokenModelImportsAsATextClassifierWithTheGivenVocabulary()
    {
        var ml = new MLContext(seed: 1);
        using var temp = RepoPaths.TempDirectory();
        var lstm = Serialization.OnnxTestModels.LstmOpset14();
        File.WriteAllBytes(temp.File("lstm.onnx"), lstm.Bytes);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => ml.Quantization().ImportOnnx(temp.File("lstm.onnx")));
        Assert.Contains("give OnnxImportOptions.Vocabulary", missing.Message);
        var tokens = Enumerable.Range(0, lstm.Vocabulary - 2).Select(i => $"w{i}").ToArray();
        var text = Assert.IsType<TextLstmTransformer>(ml.Quantization().ImportOnnx(temp.File("lstm.onnx"), new OnnxImportOptions { FeatureColumnName = "Text", Vocabulary = tokens, ClassNames = new[] { "x", "y", "z" } }));
        Assert.Equal(tokens, text.Vocabulary);
        var scored = text.Transform(ml.Data.LoadFromEnumerable(new[] { new Row { Text = "w1 w2 w3" }, new Row { Text = "w17 unknown" } }));
        Assert.All(scored.GetColumn<float[]>("Score"), s => Assert.Equal(1, s.Sum(), 4));
        Assert.Throws<FileNotFoundException>(() => ml.Quantization().ImportOnnx(temp.File("absent.onnx")));
        var tooLarge = Assert.Throws<InvalidDataException>(() => ml.Quantization().ImportOnnx(temp.File("lstm.onnx"), new OnnxImportOptions { MaxFileBytes = 100 }));
        Assert.Contains("over the limit of 100", tooLarge.Message);
    }

    private sealed class Row
    {
        public string Text { get; set; } = "";
    }
}
