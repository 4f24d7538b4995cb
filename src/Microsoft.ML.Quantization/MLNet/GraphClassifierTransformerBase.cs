using Microsoft.ML.Quantization.MLNet;
using Microsoft.ML.Quantization.Training;

namespace Microsoft.ML.Quantization;

/// <summary>
/// What the trained classifiers share: the network they score with, the class names, the training history,
/// the saved state of the network, and the ONNX export.
/// </summary>
public abstract class GraphClassifierTransformerBase : QuantizationTransformerBase
{
    private readonly string inputColumn;
    private readonly string[] classNames;

    private protected GraphClassifierTransformerBase(ITransformer mapping, IGraphScorer scorer, string inputColumn, string[] classNames, IReadOnlyList<EpochRecord> history)
        : base(mapping)
    {
        Scorer = scorer;
        this.inputColumn = inputColumn;
        this.classNames = classNames;
        TrainingHistory = history;
    }

    /// <summary>The network as trained, with the quantizers QAG inserted.</summary>
    public NetworkGraph Graph => Scorer.Graph;

    /// <summary>The class names, by predicted key − 1.</summary>
    public IReadOnlyList<string> ClassNames => classNames;

    /// <summary>Loss, accuracy and time of each training epoch (empty after loading).</summary>
    public IReadOnlyList<EpochRecord> TrainingHistory { get; }

    internal IGraphScorer Scorer { get; }

    /// <summary>
    /// Writes the network as an ONNX model (opset 17): input "input" [N, ...graph input shape] holding what the
    /// transformer feeds its network (the pixel vector, the pixel scale applied inside; or the int64 token ids
    /// its vocabulary gives a text), output "logits" [N, classes]. Only FP32 networks export; a quantized one
    /// throws <see cref="NotSupportedException"/>.
    /// </summary>
    public void ExportToOnnx(Stream destination) => PackedScorer.WriteOnnx(Scorer, destination);

    private protected sealed override ushort FormatVersion => Scorer.FormatVersion;

    /// <summary>Writes the input column, the class names and the network (after the derived class's own state).</summary>
    private protected void WriteClassifier(BinaryWriter writer) => GraphClassifierState.Write(writer, inputColumn, classNames, Scorer);
}
