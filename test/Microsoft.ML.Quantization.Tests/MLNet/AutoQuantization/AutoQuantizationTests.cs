using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Activations;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Microsoft.ML.Quantization.Training;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet.AutoQuantization;

/// <summary>
/// <c>QuantizeAutomatically</c> end to end on small data: the estimator, chain and trained-model entry points,
/// the report, Model.Save/Load, per-stage resumption and the errors for bad input.
/// </summary>
public class AutoQuantizationTests
{
    private static ImageClassifierOptions LeNet() => new() { FeatureColumnName = DatasetCatalog.PixelsColumn, Graph = NetworkGraphs.LeNet5(), Epochs = 2, LearningRate = 2e-3 };

    private static AutoQuantizationOptions Quick(string? checkpoints = null) => new()
    {
        SearchEpochs = 1, PrecisionEpochs = 1, FineTuneEpochs = 1,
        Training = new TrainingOptions { LearningRate = 5e-4, BatchSize = 64, CheckpointDirectory = checkpoints },
    };

    [Fact]
    public void ChainQuantizesToTheTargetReportsAndRoundTripsThroughSaveAndLoad()
    {
        var (ml, train, test) = SubsetData.FashionMnist(1000);
        var logged = new List<string>();
        ml.Log += (_, e) => logged.Add(e.Message);
        // LeNet's first layer keeps 8-bit inputs (784 of its activation values), so 2-bit activations are out of reach: 3.5 is not.
        var options = Quick();
        options.TargetActivationBits = 3.5;
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.ImageClassifier(LeNet()))
            .QuantizeAutomatically(targetBits: 2, options);
        var model = pipeline.Fit(train);

        var report = model.LastTransformer.QuantizationReport!;
        Assert.Equal(new[] { "conv1", "conv2", "fc1", "fc2", "fc3" }, report.Layers.Select(l => l.Layer));
        Assert.Equal(8, report.Layers[0].Weights.Bits);
        Assert.Equal(8, report.Layers[^1].Weights.Bits);
        Assert.InRange(report.AverageWeightBits, 2 - 0.1 - 1e-9, 2 + 1e-9);
        Assert.InRange(report.AverageActivationBits, 3.5 - 0.1 - 1e-9, 3.5 + 1e-9);
        Assert.Equal((2.0, 3.5), (report.TargetWeightBits!.Value, report.TargetActivationBits!.Value));
        Assert.Contains("target W2.00/A3.50, achieved W", report.ToString());
        Assert.All(report.Layers.Skip(1).SkipLast(1), l => Assert.InRange(l.Weights.Bits, 1, 3));
        Assert.Equal(new[] { "FP32 training", "QSS", "QPL", "Fine-tuning" }, report.Stages.Select(s => s.Stage));
        Assert.NotNull(report.SearchCostRatio);
        Assert.NotEmpty(report.SchemeHistory);
        Assert.NotEmpty(report.BitHistory);
        Assert.Contains(logged, m => m.Contains("QSS: epoch 1/1"));
        Assert.Contains(logged, m => m.Contains("Calibrated the activation quantizers"));
        var accuracy = ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;
        Assert.True(accuracy > 0.4, $"accuracy {accuracy:P1}");

        using var temp = RepoPaths.TempDirectory();
        ml.Model.Save(model, train.Schema, temp.File("model.zip"));
        var fresh = new MLContext();
        fresh.ComponentCatalog.RegisterQuantization();
        var loaded = (TransformerChain<ITransformer>)fresh.Model.Load(temp.File("model.zip"), out _);
        var classifier = (ImageClassifierTransformer)loaded.LastTransformer;
        Assert.Equal(report.Layers, classifier.QuantizationReport!.Layers);
        Assert.Equal(report.AverageWeightBits, classifier.QuantizationReport.AverageWeightBits);
        Assert.Equal(model.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s), loaded.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s));
    }

    [Fact]
    public void TrainedModelQuantizesWithDqaAndResumesEveryStageFromItsCheckpoint()
    {
        var (ml, train, test) = SubsetData.FashionMnist(600);
        var fp32 = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ImageClassifier(LeNet())).Fit(train);
        using var temp = RepoPaths.TempDirectory();
        var options = Quick(temp.Path);
        options.UseAttention = true;
        options.AttentionEpochs = 1;

        var first = (TransformerChain<ImageClassifierTransformer>)ml.Quantization().QuantizeAutomatically(fp32, train, 2, options);
        var report = first.LastTransformer.QuantizationReport!;
        Assert.All(report.Layers.Skip(1).SkipLast(1), l => Assert.Equal(new QuantizerSpec(QuantizationScheme.ClipQ, 2, QuantizationGranularity.PerOutputChannel), l.Weights));
        Assert.Equal(new[] { 0.0, 0.0, 1.0 }, report.AttentionHistory.Last().Attention.Select(a => Math.Round(a, 9)));
        Assert.True(File.Exists(Path.Combine(temp.Path, "DQA-checkpoint.bin")));

        // A rerun with the same checkpoints trains nothing and gives the same network.
        var again = (TransformerChain<ImageClassifierTransformer>)ml.Quantization().QuantizeAutomatically(fp32, train, 2, options);
        Assert.All(again.LastTransformer.QuantizationReport!.Stages.Where(s => s.Stage != "FP32 training"), s => Assert.Equal(0, s.Epochs));
        Assert.Equal(report.AttentionHistory.SelectMany(h => h.Attention), again.LastTransformer.QuantizationReport.AttentionHistory.SelectMany(h => h.Attention));
        Assert.Equal(first.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s), again.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s));
    }

    [Fact]
    public void TextLstmQuantizesItsLstmAndRecurrentState()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.TakeRows(ml.Data.LoadFromLabeledTextTsv(RepoPaths.Subset("spam-assassin", "train.tsv.gz")), 300);
        var estimator = ml.MulticlassClassification.Trainers.TextLstm(new TextLstmOptions { Epochs = 1, SequenceLength = 24, EmbeddingSize = 8, HiddenSize = 16, VocabularySize = 2000, BatchSize = 32 });
        var options = Quick();
        options.Search.Granularity = SearchGranularity.ModelWise;
        options.Qag = new QagOptions { KeepFirstAndLastAt8Bits = false }; // the embedding holds most weights: at 8 bits no 3-bit average is reachable
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(estimator.QuantizeAutomatically(3, options)).Fit(train);
        var report = model.LastTransformer.QuantizationReport!;
        var lstm = report.Layers.Single(l => l.Layer == "lstm");
        Assert.Equal(4L * 16 * (8 + 16), lstm.WeightCount);
        Assert.Equal(24L * 8 + 24L * 16, lstm.ActivationCount); // inputs and the recurrent state at every step
        Assert.Null(report.Layers.Single(l => l.Layer == "embedding").Activations);
        Assert.Equal(new[] { "activations", "weights" }, report.SchemeHistory.Select(h => h.Vertex).Distinct().OrderBy(v => v));
        Assert.All(report.Layers.Where(l => l.Layer is "lstm" or "fc1"), l => Assert.InRange(l.Weights.Bits, 1, 3));
        Assert.Equal(300, model.Transform(train).GetColumn<float[]>("Score").Count());
    }

    [Fact]
    public void AnUnreachableTargetFailsBeforeTheSearchNamingTheClosestAverages()
    {
        var (ml, train, _) = SubsetData.FashionMnist(200);
        var logged = new List<string>();
        ml.Log += (_, e) => logged.Add(e.Message);
        var fp32 = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ImageClassifier(LeNet())).Fit(train);
        var error = Assert.Throws<UnreachableBitTargetException>(() => ml.Quantization().QuantizeAutomatically(fp32, train, 2, Quick()));
        Assert.Equal("activation", error.Role);
        Assert.True(error.ClosestAbove > 2);
        Assert.DoesNotContain(logged, m => m.Contains("QSS: epoch"));
    }

    [Fact]
    public void AnEstimatorRefusesAnUnreachableTargetBeforeTrainingInFp32()
    {
        // The README's form, a chain ending in the trainer: the FP32 network is checked before its first epoch.
        var (ml, train, _) = SubsetData.FashionMnist(200);
        var logged = new List<string>();
        ml.Log += (_, e) => logged.Add(e.Message);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.ImageClassifier(LeNet()))
            .QuantizeAutomatically(targetBits: 2, Quick());
        var error = Assert.Throws<UnreachableBitTargetException>(() => pipeline.Fit(train));
        Assert.Equal("activation", error.Role);
        Assert.DoesNotContain(logged, m => m.Contains("FP32 training: epoch"));

        // Outside automatic quantization the same trainer trains as before.
        Assert.NotNull(ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ImageClassifier(LeNet())).Fit(train).LastTransformer);
    }

    [Fact]
    public void BadInputIsRefusedWithAClearError()
    {
        var (ml, train, _) = SubsetData.FashionMnist(200);
        var estimator = ml.MulticlassClassification.Trainers.ImageClassifier(LeNet());
        Assert.Throws<ArgumentOutOfRangeException>(() => estimator.QuantizeAutomatically(targetBits: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => estimator.QuantizeAutomatically(2, new AutoQuantizationOptions { SearchEpochs = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => estimator.QuantizeAutomatically(2, new AutoQuantizationOptions { Search = new SchemeSearchOptions { ActivationCandidates = Array.Empty<QuantizationScheme>() } }));
        Assert.Throws<ArgumentException>(() => ml.Quantization().QuantizeAutomatically(ml.Transforms.Conversion.MapValueToKey("Label").Fit(train), train));

        var options = LeNet();
        options.Epochs = 1;
        options.Quantization = new QagOptions();
        var quantized = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ImageClassifier(options)).Fit(train);
        var error = Assert.Throws<InvalidOperationException>(() => ml.Quantization().QuantizeAutomatically(quantized, train));
        Assert.Contains("already quantized", error.Message);
    }

    [Fact]
    public void ALoadedBCPReLUModelQuantizedAgainKeepsItsOutputGrid()
    {
        // The BCPReLU options live in the graph's nodes: a model that is saved, loaded in a fresh context (which knows
        // nothing of the trainer's options) and quantized keeps its 3-bit BCPReLU output, through another save and load.
        var (ml, train, test) = SubsetData.FashionMnist(300);
        var graph = new NetworkGraphBuilder(1, 28, 28).Conv2d("conv", 8, 3, padding: 1).BatchNorm("bn").BCPReLU("act").MaxPool("pool", 4)
            .Flatten("flatten").Linear("fc", 10).Build();
        var trainer = new ImageClassifierOptions { FeatureColumnName = DatasetCatalog.PixelsColumn, Graph = graph, Epochs = 1, Activations = new BCPReLUOptions { OutputBits = 3 } };
        var fp32 = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ImageClassifier(trainer)).Fit(train);
        Assert.Equal(3, fp32.LastTransformer.Graph["act"].BCPReLU?.OutputBits);
        using var temp = RepoPaths.TempDirectory();
        ml.Model.Save(fp32, train.Schema, temp.File("fp32.zip"));

        var fresh = new MLContext(seed: 1);
        fresh.ComponentCatalog.RegisterQuantization();
        var loaded = fresh.Model.Load(temp.File("fp32.zip"), out _);
        var options = Quick();
        (options.SearchEpochs, options.PrecisionEpochs) = (0, 0);
        var quantized = (TransformerChain<ITransformer>)fresh.Quantization().QuantizeAutomatically(loaded, train, targetBits: 4, options);
        fresh.Model.Save(quantized, train.Schema, temp.File("quantized.zip"));
        var reloaded = (TransformerChain<ITransformer>)fresh.Model.Load(temp.File("quantized.zip"), out _);

        foreach (var classifier in new[] { (ImageClassifierTransformer)quantized.LastTransformer, (ImageClassifierTransformer)reloaded.LastTransformer })
        {
            var act = classifier.Graph["act"];
            Assert.True(classifier.Graph.IsQuantized);
            Assert.Equal(3, act.BCPReLU?.OutputBits);
            var grid = classifier.Model!.Grid(StateNames.OutputGridPrefix(act));
            Assert.NotNull(grid);
            Assert.Equal(3, grid!.Bits);
        }
        Assert.Equal(quantized.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s), reloaded.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s));
    }
}
