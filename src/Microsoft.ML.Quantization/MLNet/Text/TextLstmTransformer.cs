using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.MLNet.Classifiers;
using Microsoft.ML.Quantization.MLNet.Persistence;
using Microsoft.ML.Quantization.MLNet.Text;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Training;

namespace Microsoft.ML.Quantization;

/// <summary>
/// A trained text classifier: tokenises the text column with the vocabulary learnt at fit time and maps
/// it to <c>Score</c> and <c>PredictedLabel</c>. Tokens outside the vocabulary map to one reserved id.
/// Saves and loads with <c>mlContext.Model</c> (after <see cref="QuantizationCatalogExtensions.RegisterQuantization"/>).
/// </summary>
public sealed class TextLstmTransformer : GraphClassifierTransformerBase
{
    internal const string Kind = "TextLstm";
    private readonly TextVocabulary vocabulary;

    internal TextLstmTransformer(IGraphScorer scorer, TextVocabulary vocabulary, string textColumn, string[] classNames, IReadOnlyList<EpochRecord> history,
        QuantizationReport? report = null)
        : base(ColumnMapping.Classifier<ReadOnlyMemory<char>>(textColumn, TextDataViewType.Instance, classNames,
            (text, probabilities) => scorer.Score(Ids(vocabulary, text, scorer.Graph.InputShape[0]), probabilities), out var empty).Fit(empty),
            scorer, textColumn, classNames, history, report)
    {
        this.vocabulary = vocabulary;
    }

    internal override float InputScale => 1f;

    private protected override void CheckInput(DataViewSchema inputSchema)
    {
        var column = inputSchema.GetColumnOrNull(InputColumnName) ?? throw new ArgumentOutOfRangeException(nameof(inputSchema), $"The data has no text column '{InputColumnName}'.");
        if (column.Type is not TextDataViewType) throw new ArgumentOutOfRangeException(nameof(inputSchema), $"Text column '{InputColumnName}' must hold text, but is {column.Type}.");
    }

    internal override TrainingData ReadTrainingData(IDataView data, string labelColumn)
    {
        var (texts, labels) = LabeledVectorReader.ReadText(data, InputColumnName, labelColumn);
        int length = Graph.InputShape[0];
        var ids = texts.SelectMany(t => vocabulary.Encode(t, length)).ToArray();
        return new TrainingData(TorchSharp.torch.tensor(ids).reshape(texts.Length, length), TorchSharp.torch.tensor(labels));
    }

    internal override GraphClassifierTransformerBase WithNetwork(ExportedModel model, IReadOnlyList<EpochRecord> history, QuantizationReport report) =>
        new TextLstmTransformer(new PackedScorer(model, 1f), vocabulary, InputColumnName, ClassNames.ToArray(), history, report);

    /// <summary>Number of ids the vocabulary uses (padding and unknown included).</summary>
    public int VocabularySize => vocabulary.Size;

    /// <summary>The tokens of ids 2, 3, … (id 0 pads, id 1 stands for unknown tokens).</summary>
    public IReadOnlyList<string> Vocabulary => vocabulary.Tokens;

    private protected override string PayloadKind => Kind;

    private protected override void WriteState(BinaryWriter writer)
    {
        writer.Write(vocabulary.Tokens.Count);
        foreach (string token in vocabulary.Tokens) writer.Write(token);
        WriteClassifier(writer);
    }

    /// <summary>Reads the state <see cref="WriteState"/> wrote (see <see cref="ModelLoader"/>).</summary>
    internal static ITransformer Load(BinaryReader reader, ushort version)
    {
        int count = reader.ReadInt32();
        if (count is < 0 or > 5_000_000) throw new InvalidDataException($"The stored vocabulary has {count} tokens.");
        var vocabulary = new TextVocabulary(Enumerable.Range(0, count).Select(_ => reader.ReadString()).ToArray());
        var (column, names, scorer) = GraphClassifierState.Read(reader, version, 1f);
        if (scorer.Graph.InputShape.Count != 1 || scorer.Graph.Nodes[0].Kind != NodeKind.Embedding)
            throw new InvalidDataException("The stored text graph does not take a sequence of token ids.");
        if (scorer.Graph.Nodes[0].Vocabulary != vocabulary.Size)
            throw new InvalidDataException($"The stored embedding has {scorer.Graph.Nodes[0].Vocabulary} rows for a vocabulary of {vocabulary.Size} ids.");
        return new TextLstmTransformer(scorer, vocabulary, column, names, Array.Empty<EpochRecord>());
    }

    /// <summary>The token ids of a text as the network's float input.</summary>
    private static float[] Ids(TextVocabulary vocabulary, ReadOnlyMemory<char> text, int length) =>
        Array.ConvertAll(vocabulary.Encode(text.ToString(), length), id => (float)id);
}
