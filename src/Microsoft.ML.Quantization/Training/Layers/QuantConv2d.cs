using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>Conv2d whose weight passes through the node's weight quantizer on every forward.</summary>
internal sealed class QuantConv2d : Module<Tensor, Tensor>
{
    private readonly Conv2d conv;
    private readonly WeightQuantization weightQuantizer;
    private readonly long stride, padding;

    public QuantConv2d(string name, long inChannels, GraphNode node) : base(name)
    {
        conv = Conv2d(inChannels, node.Units, node.Kernel, stride: node.Stride, padding: node.Padding, bias: node.Bias);
        weightQuantizer = new WeightQuantization(node.WeightQuantizer);
        stride = node.Stride;
        padding = node.Padding;
        RegisterComponents();
    }

    public Parameter Weight => conv.weight!;

    public override Tensor forward(Tensor x) =>
        functional.conv2d(x, weightQuantizer.Apply(conv.weight!, training), conv.bias, new[] { stride, stride }, new[] { padding, padding });
}
