using Microsoft.ML.Quantization.Schemes;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>Applies a node's weight quantizer (if any) in the forward pass, with the scheme's straight-through gradient.</summary>
internal static class WeightQuantization
{
    public static Tensor Apply(Tensor weight, QuantizerSpec? spec) =>
        spec is null ? weight : QuantizerScheme.For(spec.Scheme).Quantize(weight, spec.Bits, spec.Granularity);
}
