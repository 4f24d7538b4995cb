using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet;

/// <summary>
/// Models saved by earlier payload format versions keep loading. Fixtures/image-classifier-v1.zip was
/// written by format version 1 (regenerate only for a new version, with MLQUANT_WRITE_FIXTURES=1, and keep the old file).
/// </summary>
public class ModelFormatCompatibilityTests
{
    private static readonly string Fixtures = Path.Combine(RepoPaths.Root, "test", "Microsoft.ML.Quantization.Tests", "Fixtures");
    private static readonly string ModelPath = Path.Combine(Fixtures, "image-classifier-v1.zip");
    private static readonly string ScoresPath = Path.Combine(Fixtures, "image-classifier-v1.scores.json");

    public class Image
    {
        [VectorType(784)] public float[] Pixels { get; set; } = Array.Empty<float>();
        public string Label { get; set; } = "";
    }

    public class Prediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    private static List<Image> Inputs(MLContext ml) => ml.Data.CreateEnumerable<Image>(
        ml.Data.LoadFromIdxImages(RepoPaths.Subset("fashion-mnist", "t10k-images-idx3-ubyte.gz"), RepoPaths.Subset("fashion-mnist", "t10k-labels-idx1-ubyte.gz"),
            DatasetCatalog.FashionMnistClassNames), reuseRowObject: false).Take(8).ToList();

    [Fact]
    public void VersionOneModelStillLoadsAndScoresTheSame()
    {
        if (Environment.GetEnvironmentVariable("MLQUANT_WRITE_FIXTURES") == "1") WriteFixture();
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterQuantization();
        var model = ml.Model.Load(ModelPath, out _);
        var engine = ml.Model.CreatePredictionEngine<Image, Prediction>(model);
        var expected = JsonSerializer.Deserialize<float[][]>(File.ReadAllText(ScoresPath))!;
        var inputs = Inputs(ml);
        Assert.Equal(expected.Length, inputs.Count);
        for (int i = 0; i < inputs.Count; i++) Assert.Equal(expected[i], engine.Predict(inputs[i]).Score);
    }

    // ML.NET opens the zip itself and wraps what it finds: a truncated file surfaces as its FormatException
    // around the zip reader's InvalidDataException.
    [Fact]
    public void TruncatedModelFileIsInvalidData()
    {
        using var temp = RepoPaths.TempDirectory();
        byte[] bytes = File.ReadAllBytes(ModelPath);
        string truncated = temp.File("truncated.zip");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length * 2 / 3)]);
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterQuantization();
        var error = Assert.Throws<FormatException>(() => ml.Model.Load(truncated, out _));
        Assert.IsType<InvalidDataException>(error.InnerException);
    }

    private static void WriteFixture()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.TakeRows(ml.Data.LoadFromIdxImages(RepoPaths.Subset("fashion-mnist", "train-images-idx3-ubyte.gz"),
            RepoPaths.Subset("fashion-mnist", "train-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames), 500);
        var graph = Qag.Prepare(new NetworkGraphBuilder(1, 28, 28).MaxPool("pool", 2).Flatten("flatten").Linear("fc1", 16).ReLU("relu").Linear("fc2", 10).Build());
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { FeatureColumnName = "Pixels", Graph = graph, Epochs = 1 }))
            .Fit(train);
        Directory.CreateDirectory(Fixtures);
        ml.Model.Save(model, train.Schema, ModelPath);
        var engine = ml.Model.CreatePredictionEngine<Image, Prediction>(model);
        File.WriteAllText(ScoresPath, JsonSerializer.Serialize(Inputs(ml).Select(i => engine.Predict(i).Score).ToArray()));
    }
}
