using Microsoft.ML.Quantization.Graph;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>Conv2d whose weight passes through the node's weight quantizer on every forward.</summary>
internal sealed class QuantConv2d : Module<Tensor, Tensor>
{
    private readonly Conv2d conv;
    private readonly Module<Tensor, Tensor>? weight_quantizer;
    private readonly long stride, padding, groups;

    public QuantConv2d(string name, long inChannels, GraphNode node, IQuantizerFactory quantizers) : base(name)
    {
        conv = Conv2d(inChannels, node.Units, node.Kernel, stride: node.Stride, padding: node.Padding, bias: node.Bias, groups: node.Groups);
        weight_quantizer = quantizers.Weight(node);
        stride = node.Stride;
        padding = node.Padding;
        groups = node.Groups;
        RegisterComponents();
    }

    public Parameter Weight => conv.weight!;

    private Tensor Quantized(Tensor weight) => weight_quantizer is null ? weight : weight_quantizer.call(weight);

    public override Tensor forward(Tensor x) => BlockAlignedConvolution.Conv2d(x, Quantized(conv.weight!), conv.bias, stride, padding, groups);
}
