using Microsoft.ML.Quantization.Schemes;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>
/// The activation quantizer QAG inserts (<see cref="NodeKind.Quantize"/>): fits its scheme's grid to each
/// batch and quantizes with a straight-through gradient.
/// </summary>
internal sealed class ActivationQuantizer : Module<Tensor, Tensor>
{
    private readonly QuantizerScheme scheme;
    private readonly int bits;

    public ActivationQuantizer(string name, QuantizerSpec spec) : base(name)
    {
        scheme = QuantizerScheme.For(spec.Scheme);
        bits = spec.Bits;
    }

    public override Tensor forward(Tensor x) => scheme.Quantize(x, bits);
}
