using Microsoft.ML.Quantization.Graph;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>
/// Creates the quantizer modules of a <see cref="GraphModule"/>: fixed ones for training and scoring
/// (<see cref="FixedQuantizers"/>), or the relaxations of the search stages (QSS, QPL, DQA), which learn
/// parameters held by <see cref="Parameters"/>.
/// </summary>
internal interface IQuantizerFactory
{
    /// <summary>The weight quantizer of an expensive node (null where the node has none).</summary>
    Module<Tensor, Tensor>? Weight(GraphNode node);

    /// <summary>
    /// The activation quantizer of vertex <paramref name="vertex"/> (a Quantize node), registered under
    /// <paramref name="moduleName"/>; an LSTM's recurrent state uses its input edge's vertex.
    /// </summary>
    Module<Tensor, Tensor> Activation(string moduleName, string vertex, QuantizerSpec spec);

    /// <summary>The search parameters (scheme logits, bitwidths, attention), registered as the module "search"; null for none.</summary>
    Module? Parameters { get; }
}

/// <summary>The fixed quantizers named by the graph's specs.</summary>
internal sealed class FixedQuantizers : IQuantizerFactory
{
    public static readonly FixedQuantizers Instance = new();

    public Module<Tensor, Tensor>? Weight(GraphNode node) => node.WeightQuantizer is null ? null : new FixedWeightQuantizer(node.WeightQuantizer);

    public Module<Tensor, Tensor> Activation(string moduleName, string vertex, QuantizerSpec spec) => new QuantActivation(moduleName, spec);

    public Module? Parameters => null;
}
