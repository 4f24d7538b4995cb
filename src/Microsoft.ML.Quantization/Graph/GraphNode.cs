using System.Text.Json.Serialization;
using Microsoft.ML.Quantization.Activations;

namespace Microsoft.ML.Quantization.Graph;

/// <summary>
/// One vertex of a <see cref="NetworkGraph"/>: an operation, the names of the nodes it reads, its sizes,
/// and the quantizers QAG attached to it. Sizes that shape inference can derive may be left null.
/// </summary>
public sealed record GraphNode
{
    /// <summary>The ε a <see cref="NodeKind.BatchNorm"/> adds to the variance, in training, scoring and export alike (TorchSharp's default).</summary>
    public const double BatchNormEpsilon = 1e-5;

    /// <summary>Unique name.</summary>
    public required string Name { get; init; }

    /// <summary>The operation.</summary>
    public required NodeKind Kind { get; init; }

    /// <summary>Names of the input nodes, or <see cref="NetworkGraph.InputName"/> for the graph input.</summary>
    public IReadOnlyList<string> Inputs { get; init; } = Array.Empty<string>();

    /// <summary>Output channels (Conv2d) or features (Linear), the hidden size (LSTM), the embedding size, or a PReLU's slopes (0 or 1: one shared, else one per channel).</summary>
    public int Units { get; init; }

    /// <summary>Declared input channels or features; null to infer.</summary>
    public int? InputUnits { get; init; }

    /// <summary>Kernel size of convolution and pooling.</summary>
    public int Kernel { get; init; } = 1;

    /// <summary>Stride of convolution and pooling.</summary>
    public int Stride { get; init; } = 1;

    /// <summary>Zero padding of convolution and pooling.</summary>
    public int Padding { get; init; }

    /// <summary>
    /// Groups of a Conv2d: each output channel reads only its group's input channels (the input channels for depthwise).
    /// Input and output channels must both divide by it. Default 1.
    /// </summary>
    public int Groups { get; init; } = 1;

    /// <summary>Whether Conv2d and Linear add a bias.</summary>
    public bool Bias { get; init; } = true;

    /// <summary>Vocabulary size of an Embedding.</summary>
    public int Vocabulary { get; init; }

    /// <summary>Drop probability of a Dropout.</summary>
    public double Rate { get; init; }

    /// <summary>Weight quantizer of an expensive node (set by QAG), or null.</summary>
    public QuantizerSpec? WeightQuantizer { get; init; }

    /// <summary>The quantizer of a <see cref="NodeKind.Quantize"/> node.</summary>
    public QuantizerSpec? ActivationQuantizer { get; init; }

    /// <summary>Options of a <see cref="NodeKind.BCPReLU"/> node (output bits, clip decay, initial values); null for the defaults.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public BCPReLUOptions? BCPReLU { get; init; }
}
