using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.MLNet.Classifiers;
using Microsoft.ML.Quantization.MLNet.Persistence;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Serialization;
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

    private readonly QuantizationReport? report;

    private protected GraphClassifierTransformerBase(ITransformer mapping, IGraphScorer scorer, string inputColumn, string[] classNames, IReadOnlyList<EpochRecord> history,
        QuantizationReport? report = null)
        : base(mapping)
    {
        Scorer = scorer;
        this.inputColumn = inputColumn;
        this.classNames = classNames;
        TrainingHistory = history;
        this.report = report;
    }

    /// <summary>
    /// What each layer is quantized with, its size, and the average bitwidths; after automatic quantization
    /// also the search history and stage times (a loaded model rebuilds the layer table from its graph).
    /// Null for an FP32 network.
    /// </summary>
    public QuantizationReport? QuantizationReport => report ?? (Graph.IsQuantized ? QuantizationReport.FromGraph(Graph) : null);

    /// <summary>The input column the network reads (pixels, or the text).</summary>
    public string InputColumnName => inputColumn;

    /// <summary>The factor the network's input is multiplied by.</summary>
    internal abstract float InputScale { get; }

    /// <summary>Reads the training examples of <paramref name="data"/> as this model's network takes them.</summary>
    internal abstract TrainingData ReadTrainingData(IDataView data, string labelColumn);

    /// <summary>The same classifier around another network (from automatic quantization).</summary>
    internal abstract GraphClassifierTransformerBase WithNetwork(ExportedModel model, IReadOnlyList<EpochRecord> history, QuantizationReport report);

    /// <summary>The exported network that quantizing, saving and ONNX export read; null for a model saved in payload format 1.</summary>
    internal ExportedModel? Model => Scorer.Model;

    /// <summary>The exported network, or a <see cref="NotSupportedException"/> saying that a format-1 model has none to <paramref name="operation"/>.</summary>
    internal ExportedModel ModelFor(string operation) => Model ?? throw new NotSupportedException(
        $"This model was saved in payload format 1 (a TorchSharp state from before calibration), which holds no exported network to {operation}. "
        + "Saving it again keeps format 1: train it again with this version of MLQuant.");

    /// <summary>The network as trained, with the quantizers QAG inserted.</summary>
    public NetworkGraph Graph => Scorer.Graph;

    /// <summary>The class names, by predicted key − 1.</summary>
    public IReadOnlyList<string> ClassNames => classNames;

    /// <summary>Loss, accuracy and time of each training epoch (empty after loading).</summary>
    public IReadOnlyList<EpochRecord> TrainingHistory { get; }

    internal IGraphScorer Scorer { get; }

    /// <summary>
    /// Writes the network as an ONNX model (opset 17, or 21 when a weight is stored in 4 bits): input "input" [N, ...graph input shape] holding what the
    /// transformer feeds its network (the pixel vector, the pixel scale applied inside; or the int64 token ids
    /// its vocabulary gives a text), output "logits" [N, classes]. A quantized network exports in QDQ form
    /// (QuantizeLinear/DequantizeLinear around uniform activation grids, a float threshold staircase around the others,
    /// int4, uint4, int8 or uint8 weights where the levels are one integer lattice, decoded float weights otherwise), so ONNX Runtime
    /// computes what the packed runtime computes.
    /// </summary>
    /// <exception cref="NotSupportedException">An LSTM quantizes its recurrent state, or the model was saved in payload format 1.</exception>
    public void ExportToOnnx(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        destination.Write(Serialization.Onnx.OnnxExporter.Export(ModelFor("export to ONNX"), InputScale));
    }

    private protected sealed override ushort FormatVersion => GraphClassifierState.FormatVersion(Scorer);

    /// <summary>Writes the input column, the class names and the network (after the derived class's own state).</summary>
    private protected void WriteClassifier(BinaryWriter writer) => GraphClassifierState.Write(writer, inputColumn, classNames, Scorer);
}
