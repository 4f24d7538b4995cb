using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.MLNet.Classifiers;
using Microsoft.ML.Quantization.MLNet.Text;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Runtime;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization;

/// <summary>
/// Trains <see cref="NetworkGraphs.TextLstm"/> on a text column and a key label, in FP32 or with
/// fixed-scheme quantization-aware training. The vocabulary is learnt from the training texts and kept in
/// the model. Create it with <see cref="TextLstmCatalog.TextLstm(MulticlassClassificationCatalog.MulticlassClassificationTrainers, TextLstmOptions)"/>.
/// </summary>
public sealed class TextLstmEstimator : IEstimator<TextLstmTransformer>
{
    private readonly IHostEnvironment environment;
    private readonly TextLstmOptions options;

    internal TextLstmEstimator(IHostEnvironment environment, TextLstmOptions options)
    {
        options.Validate();
        this.environment = environment;
        this.options = options;
    }

    /// <summary>The environment it logs to.</summary>
    internal IHostEnvironment Environment => environment;

    /// <summary>The options this estimator trains with.</summary>
    public TextLstmOptions Options => options;

    /// <inheritdoc />
    public TextLstmTransformer Fit(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        string[] classNames = GraphClassifierTraining.ClassNames(input, options.LabelColumnName);
        var (texts, labels) = LabeledVectorReader.ReadText(input, options.TextColumnName, options.LabelColumnName);
        var vocabulary = TextVocabulary.Build(texts, options.VocabularySize);
        var graph = NetworkGraphs.TextLstm(vocabulary.Size, options.SequenceLength, options.EmbeddingSize, options.HiddenSize, classNames.Length, options.Dropout);
        if (options.Quantization is not null) graph = Qag.Prepare(graph, options.Quantization);

        var ids = texts.SelectMany(t => vocabulary.Encode(t, options.SequenceLength)).ToArray();
        using var data = new TrainingData(tensor(ids).reshape(texts.Length, options.SequenceLength), tensor(labels));
        var (model, history) = GraphClassifierTraining.Train(environment, "TextLstm", options, graph, data);
        return new TextLstmTransformer(new PackedScorer(model, 1f), vocabulary, options.TextColumnName, classNames, history);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var columns = inputSchema.ToDictionary(c => c.Name);
        if (!columns.TryGetValue(options.TextColumnName, out var text) || text.ItemType != TextDataViewType.Instance || text.Kind != SchemaShape.Column.VectorKind.Scalar)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The data needs a text column '{options.TextColumnName}'.");
        if (!columns.TryGetValue(options.LabelColumnName, out var label) || !label.IsKey)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The data needs a key label column '{options.LabelColumnName}'.");
        return ColumnMapping.Classifier<ReadOnlyMemory<char>>(options.TextColumnName, TextDataViewType.Instance, new[] { "0", "1" }, (_, _) => { }, out _).GetOutputSchema(inputSchema);
    }
}
