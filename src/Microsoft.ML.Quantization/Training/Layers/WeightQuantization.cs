using Microsoft.ML.Quantization.Schemes;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>
/// Applies a node's weight quantizer (if any) in the forward pass, with the scheme's straight-through
/// gradient. In eval mode the quantized weight is computed once and reused, since the weight no longer changes.
/// </summary>
internal sealed class WeightQuantization : IDisposable
{
    private readonly QuantizerSpec? spec;
    private Tensor? frozen;

    public WeightQuantization(QuantizerSpec? spec) => this.spec = spec;

    public Tensor Apply(Tensor weight, bool training)
    {
        if (spec is null) return weight;
        if (training)
        {
            Release();
            return QuantizerScheme.For(spec.Scheme).Quantize(weight, spec.Bits, spec.Granularity);
        }
        if (frozen is null)
        {
            using var _ = no_grad();
            frozen = QuantizerScheme.For(spec.Scheme).Quantize(weight, spec.Bits, spec.Granularity).DetachFromDisposeScope();
        }
        return frozen;
    }

    public void Dispose() => Release();

    private void Release()
    {
        frozen?.Dispose();
        frozen = null;
    }
}
