using Microsoft.ML.Quantization.Graph;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>Linear layer whose weight passes through the node's weight quantizer on every forward.</summary>
internal sealed class QuantLinear : Module<Tensor, Tensor>
{
    private readonly Linear linear;
    private readonly Module<Tensor, Tensor>? weight_quantizer;

    public QuantLinear(string name, long inFeatures, GraphNode node, IQuantizerFactory quantizers) : base(name)
    {
        linear = Linear(inFeatures, node.Units, hasBias: node.Bias);
        weight_quantizer = quantizers.Weight(node);
        RegisterComponents();
    }

    private Tensor Quantized(Tensor weight) => weight_quantizer is null ? weight : weight_quantizer.call(weight);

    public override Tensor forward(Tensor x) => functional.linear(x, Quantized(linear.weight!), linear.bias);
}
