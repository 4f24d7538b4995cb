using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Training;
namespace Microsoft.ML.Quantization;

/// <summary>Options of the <see cref="TextLstmEstimator"/> (see <see cref="TextLstmCatalog.TextLstm(MulticlassClassificationCatalog.MulticlassClassificationTrainers, TextLstmOptions)"/>).</summary>
public sealed class TextLstmOptions : TrainingOptions
{
    /// <summary>The text column. Default "Text".</summary>
    public string TextColumnName { get; set; } = "Text";

    /// <summary>The key column of labels. Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>Tokens read from each text (the first ones; shorter texts are padded). Default 256.</summary>
    public int SequenceLength { get; set; } = 256;

    /// <summary>Largest vocabulary, reserved ids included. Default 20,000.</summary>
    public int VocabularySize { get; set; } = 20_000;

    /// <summary>Embedding size. Default 64.</summary>
    public int EmbeddingSize { get; set; } = 64;

    /// <summary>LSTM hidden size. Default 128.</summary>
    public int HiddenSize { get; set; } = 128;

    /// <summary>Drop rate on the LSTM's output during training (it overfits a few thousand mails otherwise). Default 0.5.</summary>
    public double Dropout { get; set; } = 0.5;

    /// <summary>Fixed-scheme quantization-aware training through QAG; null trains in FP32. Default null.</summary>
    public QagOptions? Quantization { get; set; }

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        if (string.IsNullOrWhiteSpace(TextColumnName)) throw new ArgumentOutOfRangeException(nameof(TextColumnName), "Name the text column.");
        if (string.IsNullOrWhiteSpace(LabelColumnName)) throw new ArgumentOutOfRangeException(nameof(LabelColumnName), "Name the label column.");
        if (SequenceLength is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(SequenceLength), SequenceLength, "The sequence length must be 1 to 10,000.");
        if (VocabularySize is < 3 or > 5_000_000) throw new ArgumentOutOfRangeException(nameof(VocabularySize), VocabularySize, "The vocabulary size must be 3 to 5,000,000.");
        if (EmbeddingSize < 1) throw new ArgumentOutOfRangeException(nameof(EmbeddingSize), EmbeddingSize, "The embedding size must be ≥ 1.");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "The drop rate must be in [0, 1).");
        if (HiddenSize < 2) throw new ArgumentOutOfRangeException(nameof(HiddenSize), HiddenSize, "The hidden size must be ≥ 2.");
    }
}
