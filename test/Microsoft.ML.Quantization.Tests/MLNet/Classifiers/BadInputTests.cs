using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Microsoft.ML.Transforms.Image;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet.Classifiers;

/// <summary>
/// The bad inputs of issue 7 that other test files do not cover: each gives a typed error naming the column,
/// file or option and what was expected, or a documented behaviour.
/// </summary>
public class BadInputTests
{
    public class Pixels
    {
        [VectorType(784)] public float[] Features { get; set; } = new float[784];
        public string Label { get; set; } = "a";
    }

    public class ShortPixels
    {
        [VectorType(100)] public float[] Features { get; set; } = new float[100];
        public string Label { get; set; } = "a";
    }

    public class Mail
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    public class Verdict
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    public class ImageFile
    {
        public string Path { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private static ImageClassifierOptions LeNet() => new() { FeatureColumnName = "Features", Graph = NetworkGraphs.LeNet5(classes: 2), Epochs = 1 };

    private static (MLContext Ml, ITransformer Model) TrainedImageModel()
    {
        var ml = new MLContext(seed: 1);
        var random = new Random(1);
        var rows = Enumerable.Range(0, 64).Select(i => new Pixels { Features = Enumerable.Range(0, 784).Select(_ => (float)random.Next(256)).ToArray(), Label = i % 2 == 0 ? "a" : "b" });
        var data = ml.Data.LoadFromEnumerable(rows);
        return (ml, ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ImageClassifier(LeNet())).Fit(data));
    }

    [Fact]
    public void EmptyDataAndASingleClassAreRefusedAtFit()
    {
        var ml = new MLContext(seed: 1);
        var trainer = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ImageClassifier(LeNet()));
        var empty = Assert.ThrowsAny<ArgumentException>(() => trainer.Fit(ml.Data.LoadFromEnumerable(Array.Empty<Pixels>())));
        Assert.Contains("Label", empty.Message);
        var single = Assert.ThrowsAny<ArgumentException>(() => trainer.Fit(ml.Data.LoadFromEnumerable(Enumerable.Range(0, 8).Select(_ => new Pixels()))));
        Assert.Contains("single class", single.Message);
    }

    [Fact]
    public void WrongLengthOrMissingColumnAtScoringNamesTheColumn()
    {
        var (ml, model) = TrainedImageModel();
        var shortData = ml.Data.LoadFromEnumerable(new[] { new ShortPixels() });
        var wrongLength = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(shortData));
        Assert.Contains("'Features' has 100 values per row; the network expects 784", wrongLength.Message);
        var missing = Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(ml.Data.LoadFromEnumerable(new[] { new Mail() })));
        Assert.Contains("no feature column 'Features'", missing.Message);
    }

    [Fact]
    public void LabelsUnseenAtTrainingScoreNormally()
    {
        var (ml, model) = TrainedImageModel();
        var scored = model.Transform(ml.Data.LoadFromEnumerable(new[] { new Pixels { Label = "never seen" } }));
        var score = scored.GetColumn<float[]>("Score").Single();
        Assert.Equal(2, score.Length);
        Assert.Equal(1f, score.Sum(), 4);
        Assert.Equal(0u, scored.GetColumn<uint>("Label").Single()); // MapValueToKey's missing key; the prediction does not read it
    }

    [Fact]
    public void EmptyHugeAndUnknownTextsScore()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.TakeRows(ml.Data.LoadFromLabeledTextTsv(RepoPaths.Subset("spam-assassin", "train.tsv.gz")), 200);
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.TextLstm(new TextLstmOptions { Epochs = 1, SequenceLength = 16, EmbeddingSize = 8, HiddenSize = 8, VocabularySize = 500 }))
            .Fit(train);
        Assert.Contains("no text column 'Text'", Assert.Throws<ArgumentOutOfRangeException>(() => model.Transform(ml.Data.LoadFromEnumerable(new[] { new Pixels() }))).Message);
        var engine = ml.Model.CreatePredictionEngine<Mail, Verdict>(model);
        string huge = string.Concat(Enumerable.Repeat("free money now ", 200_000)); // 3 MB
        foreach (string text in new[] { "", huge, "zzqx qqvw xxyz" })
        {
            var verdict = engine.Predict(new Mail { Text = text });
            Assert.Equal(1f, verdict.Score.Sum(), 4);
        }
    }

    [Fact]
    public void AFileThatIsNotAnImageIsATypedError()
    {
        using var temp = RepoPaths.TempDirectory();
        File.WriteAllText(temp.File("not-an-image.png"), "this is text");
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(new[] { new ImageFile { Path = "not-an-image.png", Label = "a" }, new ImageFile { Path = "not-an-image.png", Label = "b" } });
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", temp.Path, nameof(ImageFile.Path)))
            .Append(ml.Transforms.ResizeImages("Image", 28, 28))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Red))
            .Append(ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { FeatureColumnName = "Pixels", Epochs = 1 }));
        // ML.NET's LoadImages fails inside its cursor; the trainer names the column and the row.
        var error = Assert.Throws<InvalidDataException>(() => pipeline.Fit(data));
        Assert.Contains("Row 0 of feature column 'Pixels'", error.Message);
        Assert.Contains("not an image", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(9)]
    public void TargetBitsOutsideOneToEightAreRefused(int bits)
    {
        var ml = new MLContext();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => ml.MulticlassClassification.Trainers.ImageClassifier(LeNet()).QuantizeAutomatically(bits));
        Assert.Contains("TargetWeightBits", error.Message);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    public void ANonPositiveTemperatureIsRefused(double temperature)
    {
        var options = new AutoQuantizationOptions { Search = new SchemeSearchOptions { InitialTemperature = temperature } };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().MulticlassClassification.Trainers.ImageClassifier(LeNet()).QuantizeAutomatically(2, options));
        Assert.Equal("InitialTemperature", error.ParamName);
    }

    [Theory]
    [InlineData(nameof(SchemeSearchOptions.WeightSearchBits), 1)]
    [InlineData(nameof(SchemeSearchOptions.ActivationSearchBits), 9)]
    public void ASearchBitwidthOutsideTwoToEightIsRefused(string option, int bits)
    {
        var search = new SchemeSearchOptions();
        typeof(SchemeSearchOptions).GetProperty(option)!.SetValue(search, bits);
        var options = new AutoQuantizationOptions { Search = search };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new MLContext().MulticlassClassification.Trainers.ImageClassifier(LeNet()).QuantizeAutomatically(2, options));
        Assert.Equal(option, error.ParamName);
    }
}
