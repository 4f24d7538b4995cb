using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.MLNet.Classifiers;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization;

/// <summary>
/// Trains a convolutional network (a <see cref="NetworkGraph"/>, VggSmall by default) on an image feature
/// vector and a key label, in FP32 or with fixed-scheme quantization-aware training
/// (<see cref="ImageClassifierOptions.Quantization"/>). Create it with <see cref="ImageClassifierCatalog.ImageClassifier(MulticlassClassificationCatalog.MulticlassClassificationTrainers, ImageClassifierOptions)"/>.
/// </summary>
public sealed class ImageClassifierEstimator : IEstimator<ImageClassifierTransformer>
{
    private readonly IHostEnvironment environment;
    private readonly ImageClassifierOptions options;

    internal ImageClassifierEstimator(IHostEnvironment environment, ImageClassifierOptions options)
    {
        options.Validate();
        this.environment = environment;
        this.options = options;
    }

    /// <summary>The environment it logs to.</summary>
    internal IHostEnvironment Environment => environment;

    /// <summary>The options this estimator trains with.</summary>
    public ImageClassifierOptions Options => options;

    /// <inheritdoc />
    public ImageClassifierTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        string[] classNames = GraphClassifierTraining.ClassNames(input, options.LabelColumnName);
        var graph = ResolveGraph(classNames.Length);
        int length = graph.InputShape.Aggregate(1, (a, b) => a * b);
        var (features, labels) = LabeledVectorReader.Read(input, options.FeatureColumnName, length, options.LabelColumnName, options.PixelScale);

        var shape = graph.InputShape.Select(d => (long)d).Prepend(labels.LongLength).ToArray();
        using var data = new TrainingData(tensor(features).reshape(shape), tensor(labels));
        var (model, history) = GraphClassifierTraining.Train(environment, "ImageClassifier", options, graph, data);
        return new ImageClassifierTransformer(new PackedScorer(model, options.PixelScale), options.PixelScale, options.FeatureColumnName, classNames, history);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var columns = inputSchema.ToDictionary(c => c.Name);
        if (!columns.TryGetValue(options.FeatureColumnName, out var feature))
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The data has no feature column '{options.FeatureColumnName}'.");
        if (feature.Kind == SchemaShape.Column.VectorKind.Scalar || feature.ItemType != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Feature column '{options.FeatureColumnName}' must be a vector of Single.");
        if (!columns.TryGetValue(options.LabelColumnName, out var label) || !label.IsKey)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The data needs a key label column '{options.LabelColumnName}'.");
        int length = options.ImageShape.Aggregate(1, (a, b) => a * b);
        // Vector sizes are not part of a SchemaShape, so any class count describes the output columns.
        return ColumnMapping.Classifier<float[]>(options.FeatureColumnName, new VectorDataViewType(NumberDataViewType.Single, length), new[] { "0", "1" }, (_, _) => { }, out _).GetOutputSchema(inputSchema);
    }

    private NetworkGraph ResolveGraph(int classes)
    {
        var shape = options.ImageShape;
        var graph = (options.Graph ?? NetworkGraphs.VggSmall(shape[0], shape[1], classes)).WithBCPReLUDefaults(options.Activations);
        if (shape[1] != shape[2] && options.Graph is null) throw new ArgumentOutOfRangeException(nameof(options), "The default VggSmall needs square images; pass a Graph for others.");
        if (!graph.InputShape.SequenceEqual(shape))
            throw new ArgumentOutOfRangeException(nameof(options), $"The graph takes [{string.Join("x", graph.InputShape)}] inputs but ImageShape is [{string.Join("x", shape)}].");
        if (graph.OutputSize != classes)
            throw new ArgumentOutOfRangeException(nameof(options), $"The graph outputs {graph.OutputSize} values but the label has {classes} classes.");
        return options.Quantization is null || graph.IsQuantized ? graph : Qag.Prepare(graph, options.Quantization);
    }
}
