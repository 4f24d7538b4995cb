using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Search;

/// <summary>
/// A QPL vertex (AutoQNN §4): its bitwidth b is a continuous parameter; the forward quantizes with the
/// vertex's scheme at b̂ = round(b) (the value), while the step follows b (the gradient; see
/// <see cref="Functional.GridTensors.Quantize"/>), so the task loss says how much precision helps and the
/// precision loss pulls b toward the budget. Outside [<see cref="PrecisionVertex.MinBits"/>,
/// <see cref="PrecisionVertex.MaxBits"/>] b is clipped.
/// </summary>
internal sealed class LearnedBitsQuantizer : Module<Tensor, Tensor>
{
    private readonly PrecisionVertex vertex;
    private readonly Func<Tensor> bits;

    public LearnedBitsQuantizer(string name, PrecisionVertex vertex, Func<Tensor> bits) : base(name)
    {
        this.vertex = vertex;
        this.bits = bits;
    }

    public override Tensor forward(Tensor x)
    {
        var b = bits().Clamp(vertex.MinBits, vertex.MaxBits);
        var spec = vertex.SpecAt((int)Math.Round(b.item<float>()));
        using var rounded = b.detach().round();
        // b + (round(b) − b) held fixed: the value is the rounded width, the gradient that of b (STE).
        var learned = b.Plus(rounded - b.detach());
        return MixtureQuantizer.Branch(spec, x, vertex.Vertex.IsWeight, training, learned);
    }
}
