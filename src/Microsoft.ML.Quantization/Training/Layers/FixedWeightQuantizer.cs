using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>
/// A weight quantizer with a fixed scheme and bitwidth, applied in every forward pass with the scheme's
/// straight-through gradient. In eval mode the quantized weight is computed once and reused, since the
/// weight no longer changes. It holds no parameter or buffer, so it adds nothing to the saved state.
/// </summary>
internal sealed class FixedWeightQuantizer : Module<Tensor, Tensor>
{
    private readonly QuantizerSpec spec;
    private Tensor? frozen;

    public FixedWeightQuantizer(QuantizerSpec spec) : base("weight_quantizer") => this.spec = spec;

    public override Tensor forward(Tensor weight)
    {
        if (training)
        {
            Release();
            return SchemeMath.For(spec.Scheme).Quantize(weight, spec.Bits, spec.Granularity, training: true);
        }
        if (frozen is null)
        {
            using var _ = no_grad();
            frozen = SchemeMath.For(spec.Scheme).Quantize(weight, spec.Bits, spec.Granularity).DetachFromDisposeScope();
        }
        return frozen;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) Release();
        base.Dispose(disposing);
    }

    private void Release()
    {
        frozen?.Dispose();
        frozen = null;
    }
}
