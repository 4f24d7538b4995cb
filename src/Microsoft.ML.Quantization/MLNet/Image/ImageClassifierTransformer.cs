using Microsoft.ML.Data;
using Microsoft.ML.Quantization.MLNet.Classifiers;
using Microsoft.ML.Quantization.MLNet.Persistence;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Training;

namespace Microsoft.ML.Quantization;

/// <summary>
/// A trained image classifier: maps the feature column to <c>Score</c> (class probabilities) and
/// <c>PredictedLabel</c> (a key with the training labels' values). Saves and loads with
/// <c>mlContext.Model</c> (after <see cref="QuantizationCatalogExtensions.RegisterQuantization"/>).
/// A feature vector holding NaN is refused with an <see cref="ArgumentException"/> naming the index; ±∞
/// pixels are clipped to the end levels by a quantized network (an FP32 network passes them on).
/// </summary>
public sealed class ImageClassifierTransformer : GraphClassifierTransformerBase
{
    internal const string Kind = "ImageClassifier";

    internal ImageClassifierTransformer(IGraphScorer scorer, float pixelScale, string featureColumn, string[] classNames, IReadOnlyList<EpochRecord> history,
        QuantizationReport? report = null)
        : base(Mapping(scorer, featureColumn, classNames), scorer, featureColumn, classNames, history, report)
    {
        PixelScale = pixelScale;
    }

    /// <summary>The pixel scale the features are multiplied by before the network.</summary>
    public float PixelScale { get; }

    internal override float InputScale => PixelScale;

    private protected override void CheckInput(DataViewSchema inputSchema) =>
        LabeledVectorReader.CheckFeatures(inputSchema, InputColumnName, Graph.InputShape.Aggregate(1, (a, b) => a * b));

    internal override TrainingData ReadTrainingData(IDataView data, string labelColumn)
    {
        int length = Graph.InputShape.Aggregate(1, (a, b) => a * b);
        var (features, labels) = LabeledVectorReader.Read(data, InputColumnName, length, labelColumn, PixelScale);
        var shape = Graph.InputShape.Select(d => (long)d).Prepend(labels.LongLength).ToArray();
        return new TrainingData(TorchSharp.torch.tensor(features).reshape(shape), TorchSharp.torch.tensor(labels));
    }

    internal override GraphClassifierTransformerBase WithNetwork(ExportedModel model, IReadOnlyList<EpochRecord> history, QuantizationReport report) =>
        new ImageClassifierTransformer(new PackedScorer(model, PixelScale), PixelScale, InputColumnName, ClassNames.ToArray(), history, report);

    private protected override string PayloadKind => Kind;

    private protected override void WriteState(BinaryWriter writer)
    {
        writer.Write(PixelScale);
        WriteClassifier(writer);
    }

    /// <summary>Reads the state <see cref="WriteState"/> wrote (see <see cref="ModelLoader"/>).</summary>
    internal static ITransformer Load(BinaryReader reader, ushort version)
    {
        float scale = reader.ReadSingle();
        if (!(scale > 0) || float.IsInfinity(scale)) throw new InvalidDataException($"The stored pixel scale {scale} is not positive and finite.");
        var (feature, names, scorer) = GraphClassifierState.Read(reader, version, scale);
        return new ImageClassifierTransformer(scorer, scale, feature, names, Array.Empty<EpochRecord>());
    }

    private static ITransformer Mapping(IGraphScorer scorer, string featureColumn, string[] classNames)
    {
        int length = scorer.Graph.InputShape.Aggregate(1, (a, b) => a * b);
        var estimator = ColumnMapping.Classifier<float[]>(featureColumn, new VectorDataViewType(NumberDataViewType.Single, length), classNames,
            (pixels, probabilities) => scorer.Score(pixels, probabilities), out var empty);
        return estimator.Fit(empty);
    }
}
