using Microsoft.ML.Data;
using Microsoft.ML.Quantization.MLNet;
using Microsoft.ML.Quantization.Training;

namespace Microsoft.ML.Quantization;

/// <summary>
/// A trained text classifier: tokenises the text column with the vocabulary learnt at fit time and maps
/// it to <c>Score</c> and <c>PredictedLabel</c>. Tokens outside the vocabulary map to one reserved id.
/// Saves and loads with <c>mlContext.Model</c> (after <see cref="QuantizationComponentCatalog.RegisterQuantization"/>).
/// </summary>
public sealed class TextLstmTransformer : QuantizationTransformerBase
{
    internal const string Kind = "TextLstm";
    private readonly IGraphScorer scorer;
    private readonly TextVocabulary vocabulary;
    private readonly string textColumn;
    private readonly string[] classNames;

    internal TextLstmTransformer(IGraphScorer scorer, TextVocabulary vocabulary, string textColumn, string[] classNames, IReadOnlyList<EpochRecord> history)
        : base(ColumnMapping.Classifier<ReadOnlyMemory<char>>(textColumn, TextDataViewType.Instance, classNames,
            (text, probabilities) => scorer.Score(Ids(vocabulary, text, scorer.Graph.InputShape[0]), probabilities), out var empty).Fit(empty))
    {
        this.scorer = scorer;
        this.vocabulary = vocabulary;
        this.textColumn = textColumn;
        this.classNames = classNames;
        TrainingHistory = history;
    }

    /// <summary>The network as trained, with the quantizers QAG inserted.</summary>
    public NetworkGraph Graph => scorer.Graph;

    internal IGraphScorer Scorer => scorer;

    /// <summary>The class names, by predicted key − 1.</summary>
    public IReadOnlyList<string> ClassNames => classNames;

    /// <summary>Number of ids the vocabulary uses (padding and unknown included).</summary>
    public int VocabularySize => vocabulary.Size;

    /// <summary>Loss, accuracy and time of each training epoch (empty after loading).</summary>
    public IReadOnlyList<EpochRecord> TrainingHistory { get; }

    /// <summary>
    /// Writes the network as an ONNX model (opset 17): input "input" [N, ...graph input shape] holding the token ids (int64) this transformer's vocabulary gives the text, output "logits" [N, classes].
    /// Only FP32 networks export; a quantized one throws <see cref="NotSupportedException"/>.
    /// </summary>
    public void ExportToOnnx(Stream destination) => PackedScorer.WriteOnnx(scorer, destination);

    private protected override string PayloadKind => Kind;

    private protected override ushort FormatVersion => scorer.FormatVersion;

    private protected override void WriteState(BinaryWriter writer)
    {
        writer.Write(vocabulary.Tokens.Count);
        foreach (string token in vocabulary.Tokens) writer.Write(token);
        GraphClassifierState.Write(writer, textColumn, classNames, scorer);
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
