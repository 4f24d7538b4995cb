using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Microsoft.ML.Quantization.Training;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet.AutoQuantization;

/// <summary>
/// The stage estimators as a user composes them: the composition that <c>QuantizeAutomatically</c> is gives its model bit for
/// bit; QSS alone, ClipQ with learned widths, and fixed-scheme training of a trained model each run as a pipeline; stages
/// out of order or on the wrong model are refused before any training.
/// </summary>
public class QuantizationStageTests
{
    // Wide inner layers, so that 2-bit averages are reachable with the first and last layers kept at 8 bits.
    private static ImageClassifierOptions Small() => new()
    {
        FeatureColumnName = DatasetCatalog.PixelsColumn, Graph = NetworkGraphs.VggSmall(widths: new[] { 8, 16, 16, 32, 32, 32 }), Epochs = 1, LearningRate = 2e-3,
    };

    private static float[] Scores(ITransformer model, IDataView test) => model.Transform(test).GetColumn<float[]>("Score").SelectMany(s => s).ToArray();

    [Fact]
    public void TheStagesComposedGiveQuantizeAutomaticallysModelBitForBit()
    {
        var (ml, train, test) = SubsetData.FashionMnist(400, 200);
        var automatic = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ImageClassifier(Small()))
            .QuantizeAutomatically(targetBits: 2, new AutoQuantizationOptions { SearchEpochs = 1, PrecisionEpochs = 1, FineTuneEpochs = 1 }).Fit(train);
        var (ml2, train2, test2) = SubsetData.FashionMnist(400, 200);
        var composed = ml2.Transforms.Conversion.MapValueToKey("Label").Append(ml2.MulticlassClassification.Trainers.ImageClassifier(Small()))
            .SearchSchemes(new SchemeSearchOptions(), epochs: 1).LearnPrecision(targetBits: 2).FineTune(1).Fit(train2);

        var report = composed.LastTransformer.QuantizationReport!;
        Assert.Equal(new[] { "FP32 training", "QSS", "QPL", "Fine-tuning" }, report.Stages.Select(s => s.Stage));
        Assert.Equal(automatic.LastTransformer.QuantizationReport!.Layers, report.Layers);
        Assert.Equal(Scores(automatic, test), Scores(composed, test2));
    }

    [Fact]
    public void SchemeSearchAloneKeepsTheSearchBitwidth()
    {
        var (ml, train, test) = SubsetData.FashionMnist(300, 100);
        var estimator = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ImageClassifier(Small()))
            .SearchSchemes(new SchemeSearchOptions { SearchBits = 3 });
        Assert.Equal(new[] { "SearchSchemes" }, estimator.Stages);
        var model = estimator.Fit(train);
        var report = model.LastTransformer.QuantizationReport!;
        Assert.Equal(new[] { "FP32 training", "QSS", "Fine-tuning" }, report.Stages.Select(s => s.Stage));
        Assert.Equal(0, report.Stages[^1].Epochs);
        Assert.NotEmpty(report.SchemeHistory);
        Assert.Empty(report.BitHistory);
        // Binary, Ternary and Quaternary have widths of their own; every other searched layer stays at 3 bits.
        Assert.All(report.Layers.Skip(1).SkipLast(1), l => Assert.Equal(l.Weights.Scheme switch
        {
            QuantizationScheme.Binary => 1,
            QuantizationScheme.Ternary or QuantizationScheme.Quaternary => 2,
            _ => 3,
        }, l.Weights.Bits));
        Assert.Equal(200, model.Transform(test).GetColumn<float[]>("Score").Count() * 2);
    }

    [Fact]
    public void PrecisionLearningAloneLearnsClipQWidthsTowardTheTarget()
    {
        var (ml, train, _) = SubsetData.FashionMnist(300, 100);
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ImageClassifier(Small()))
            .LearnPrecision(targetBits: 2).Fit(train);
        var report = model.LastTransformer.QuantizationReport!;
        Assert.Equal(new[] { "FP32 training", "QPL", "Fine-tuning" }, report.Stages.Select(s => s.Stage));
        Assert.All(report.Layers.Skip(1).SkipLast(1), l => Assert.Equal(QuantizationScheme.ClipQ, l.Weights.Scheme));
        Assert.InRange(report.AverageWeightBits, 1.9, 2 + 1e-9);
        Assert.InRange(report.AverageActivationBits, 1.9, 2 + 1e-9);
    }

    [Fact]
    public void ATrainedModelTrainsWithFixedSchemesSavesLoadsAndFineTunesFurther()
    {
        var (ml, train, test) = SubsetData.FashionMnist(300, 100);
        var fp32 = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.ImageClassifier(Small())).Fit(train);
        var weights = new QuantizerSpec(QuantizationScheme.ClipQ, 2, QuantizationGranularity.PerOutputChannel);
        var quantized = ml.Quantization().QuantizeWith(fp32, train, weights, new QuantizerSpec(QuantizationScheme.ClipQ, 2), fineTuneEpochs: 1);
        var classifier = ((TransformerChain<ImageClassifierTransformer>)quantized).LastTransformer;
        Assert.All(classifier.QuantizationReport!.Layers.Skip(1).SkipLast(1), l => Assert.Equal(weights, l.Weights));
        Assert.Equal(new[] { "Fine-tuning" }, classifier.QuantizationReport.Stages.Select(s => s.Stage).Where(s => s != "FP32 training"));

        using var temp = RepoPaths.TempDirectory();
        ml.Model.Save(quantized, train.Schema, temp.File("model.zip"));
        var loaded = ml.Model.Load(temp.File("model.zip"), out _);
        var tuned = ml.Quantization().FineTune(loaded, train, epochs: 1);
        var tunedClassifier = ((TransformerChain<ITransformer>)tuned).OfType<ImageClassifierTransformer>().Single();
        Assert.Equal(classifier.Graph.Nodes.Select(n => n.WeightQuantizer), tunedClassifier.Graph.Nodes.Select(n => n.WeightQuantizer));
        Assert.Equal(new[] { "Fine-tuning" }, tunedClassifier.QuantizationReport!.Stages.Select(s => s.Stage));
        Assert.NotEqual(Scores(loaded, test), Scores(tuned, test));

        var fp32Error = Assert.Throws<InvalidOperationException>(() => ml.Quantization().FineTune(fp32, train, epochs: 1));
        Assert.Contains("quantize it first", fp32Error.Message);
    }

    [Fact]
    public void StagesOutOfOrderOrOnTheWrongModelAreRefusedBeforeAnyTraining()
    {
        var (ml, train, _) = SubsetData.FashionMnist(100, 10);
        var trainer = ml.MulticlassClassification.Trainers.ImageClassifier(Small());
        var spec = new QuantizerSpec(QuantizationScheme.ClipQ, 2);
        Assert.Contains("SearchSchemes cannot follow LearnPrecision", Assert.Throws<InvalidOperationException>(() => trainer.LearnPrecision(2).SearchSchemes()).Message);
        Assert.Contains("LearnPrecision cannot follow QuantizeWith", Assert.Throws<InvalidOperationException>(() => trainer.QuantizeWith(spec, spec).LearnPrecision(2)).Message);
        Assert.Contains("QuantizeAutomatically cannot follow SearchSchemes", Assert.Throws<InvalidOperationException>(() => trainer.SearchSchemes().QuantizeAutomatically(2)).Message);
        Assert.Contains("FineTune cannot follow QuantizeAutomatically", Assert.Throws<InvalidOperationException>(() => trainer.QuantizeAutomatically(2).FineTune(1)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.SearchSchemes(epochs: 0));

        var notOurs = ml.Transforms.Conversion.MapValueToKey("Label").Fit(train);
        Assert.Contains("SearchSchemes: the model holds no ImageClassifier or TextLstm", Assert.Throws<ArgumentException>(() => ml.Quantization().SearchSchemes(notOurs, train)).Message);

        // LeNet5 keeps its 784 input values at 8 bits, so 2-bit activations are out of reach: refused before the FP32 training.
        var logged = new List<string>();
        ml.Log += (_, e) => logged.Add(e.Message);
        var lenet = ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { FeatureColumnName = DatasetCatalog.PixelsColumn, Graph = NetworkGraphs.LeNet5() });
        var unreachable = Assert.Throws<UnreachableBitTargetException>(() => ml.Transforms.Conversion.MapValueToKey("Label").Append(lenet).LearnPrecision(targetBits: 2).Fit(train));
        Assert.Contains("LearnPrecision", unreachable.Message);
        Assert.Equal("activation", unreachable.Role);
        Assert.DoesNotContain(logged, m => m.Contains("FP32 training: epoch"));
    }
}
