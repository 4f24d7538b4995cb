using Microsoft.ML.Quantization.Schemes;
namespace Microsoft.ML.Quantization.Graph;

/// <summary>Options of QAG, the automatic insertion of quantizers (<see cref="Qag.Prepare"/>).</summary>
public sealed class QagOptions
{
    /// <summary>Node kinds whose incoming edges and weights are quantized. Default: Conv2d, Linear, LSTM, Embedding.</summary>
    public ISet<NodeKind> ExpensiveKinds { get; init; } = new HashSet<NodeKind> { NodeKind.Conv2d, NodeKind.Linear, NodeKind.Lstm, NodeKind.Embedding };

    /// <summary>Weight quantizer of expensive nodes. Default: PotQ-3 per output channel.</summary>
    public QuantizerSpec Weights { get; init; } = new(QuantizationScheme.PotQ, 3, QuantizationGranularity.PerOutputChannel);

    /// <summary>Activation quantizer on edges into expensive nodes. Default: ClipQ-3.</summary>
    public QuantizerSpec Activations { get; init; } = new(QuantizationScheme.ClipQ, 3);

    /// <summary>
    /// Keep the first and last expensive nodes at 8 bits (<see cref="EdgeWeights"/> and <see cref="EdgeActivations"/>),
    /// as the paper's comparisons do. Default true; false quantizes them like the rest.
    /// </summary>
    public bool KeepFirstAndLastAt8Bits { get; init; } = true;

    /// <summary>Weight quantizer of the first and last expensive nodes when kept at 8 bits. Default: ZoomQ-8 per output channel.</summary>
    public QuantizerSpec EdgeWeights { get; init; } = new(QuantizationScheme.ZoomQ, 8, QuantizationGranularity.PerOutputChannel);

    /// <summary>Activation quantizer into the first and last expensive nodes when kept at 8 bits. Default: ZoomQ-8.</summary>
    public QuantizerSpec EdgeActivations { get; init; } = new(QuantizationScheme.ZoomQ, 8);
}
