namespace Microsoft.ML.Quantization;

/// <summary>Options of <see cref="QuantizationCatalog.ImportOnnx(string, OnnxImportOptions?)"/>: which graph input and output to use, and how the classifier reads its column.</summary>
public sealed class OnnxImportOptions
{
    /// <summary>The ONNX graph input to read; null when the graph has only one. Default null.</summary>
    public string? InputName { get; set; }

    /// <summary>The ONNX graph output that holds the logits (or the softmax of them); null when the graph has only one. Default null.</summary>
    public string? OutputName { get; set; }

    /// <summary>Class names by output index, which become the predicted label's key values; null names them "0", "1", …. Default null.</summary>
    public IReadOnlyList<string>? ClassNames { get; set; }

    /// <summary>
    /// The column the classifier reads: a float vector with one example's input row-major (pixels [C,H,W] or features),
    /// or for a model whose input is token ids, the text. Default "Features".
    /// </summary>
    public string FeatureColumnName { get; set; } = "Features";

    /// <summary>
    /// Factor applied to every input value before the network, as the model was trained (1/255 maps bytes to [0,1]). A
    /// multiplication or division of the graph input by a scalar inside the ONNX graph is folded into it. Default 1.
    /// </summary>
    public float PixelScale { get; set; } = 1f;

    /// <summary>
    /// The per-channel mean subtracted from the scaled input before the network, as the model was trained
    /// ((x · <see cref="PixelScale"/> − Mean[c]) / Std[c]); one value for every channel, or null for none. A Sub, Add, Mul or
    /// Div of the graph input by per-channel constants inside the ONNX graph is folded into the same normalisation. Default null.
    /// </summary>
    public float[]? Mean { get; set; }

    /// <summary>The per-channel standard deviation the centred input is divided by (see <see cref="Mean"/>); null for none. Default null.</summary>
    public float[]? Std { get; set; }

    /// <summary>
    /// For a model whose input is token ids: the tokens of ids 2, 3, … in order, id 0 padding and id 1 any unknown token,
    /// which is how MLQuant's text classifier encodes text (lower-cased runs of letters and digits). Required for such a model.
    /// </summary>
    public IReadOnlyList<string>? Vocabulary { get; set; }

    /// <summary>The largest file the import reads, in bytes; larger files are refused before reading. Default 1 GiB.</summary>
    public long MaxFileBytes { get; set; } = 1L << 30;

    /// <summary>Checks the options.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(FeatureColumnName)) throw new ArgumentOutOfRangeException(nameof(FeatureColumnName), "Name the column the classifier reads.");
        if (!(PixelScale > 0) || float.IsInfinity(PixelScale)) throw new ArgumentOutOfRangeException(nameof(PixelScale), PixelScale, "The pixel scale must be positive and finite.");
        if (MaxFileBytes < 1) throw new ArgumentOutOfRangeException(nameof(MaxFileBytes), MaxFileBytes, "The file limit must be positive.");
        if (Mean is not null && (Mean.Length == 0 || Mean.Any(m => !float.IsFinite(m)))) throw new ArgumentOutOfRangeException(nameof(Mean), "The mean needs finite values.");
        if (Std is not null && (Std.Length == 0 || Std.Any(s => !(s > 0) || float.IsInfinity(s)))) throw new ArgumentOutOfRangeException(nameof(Std), "The deviations must be positive and finite.");
        if (ClassNames is not null && (ClassNames.Any(string.IsNullOrEmpty) || ClassNames.Distinct().Count() != ClassNames.Count))
            throw new ArgumentOutOfRangeException(nameof(ClassNames), "Class names must be distinct and not empty.");
    }
}
