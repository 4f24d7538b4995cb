using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>Linear layer whose weight passes through the node's weight quantizer on every forward.</summary>
internal sealed class QuantLinear : Module<Tensor, Tensor>
{
    private readonly Linear linear;
    private readonly WeightQuantization weightQuantizer;

    public QuantLinear(string name, long inFeatures, GraphNode node) : base(name)
    {
        linear = Linear(inFeatures, node.Units, hasBias: node.Bias);
        weightQuantizer = new WeightQuantization(node.WeightQuantizer);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => functional.linear(x, weightQuantizer.Apply(linear.weight!, training), linear.bias);
}
