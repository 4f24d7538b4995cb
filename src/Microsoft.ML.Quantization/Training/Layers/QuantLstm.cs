using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>
/// A single-layer LSTM over [B,T,D] that returns the last hidden state [B,H]. Its four gate matrices
/// (stacked in W_ih [4H,D] and W_hh [4H,H], PyTorch's i,f,g,o order) pass through the weight quantizer,
/// and the hidden state fed back into the recurrence through the activation quantizer, as in HitNet:
/// <code>
///   [i f g o] = x_t W_ihᵀ + Q(h_{t−1}) W_hhᵀ + b;  c_t = σ(f)·c_{t−1} + σ(i)·tanh(g);  h_t = σ(o)·tanh(c_t)
/// </code>
/// </summary>
internal sealed class QuantLstm : Module<Tensor, Tensor>
{
    private readonly Parameter weight_ih, weight_hh, bias;
    private readonly Module<Tensor, Tensor>? input_quantizer, recurrent_quantizer;
    private readonly Module<Tensor, Tensor>? state_quantizer;
    private readonly long hidden;

    public QuantLstm(string name, long inputFeatures, GraphNode node, IQuantizerFactory quantizers, (string Vertex, QuantizerSpec Spec)? stateQuantizer) : base(name)
    {
        hidden = node.Units;
        double bound = 1.0 / Math.Sqrt(hidden);
        weight_ih = Parameter(empty(4 * hidden, inputFeatures).uniform_(-bound, bound));
        weight_hh = Parameter(empty(4 * hidden, hidden).uniform_(-bound, bound));
        // Forget-gate bias 1 so early training keeps the state.
        var b = zeros(4 * hidden);
        b[TensorIndex.Slice(hidden, 2 * hidden)] = tensor(1f);
        bias = Parameter(b);
        input_quantizer = quantizers.Weight(node);
        recurrent_quantizer = quantizers.Weight(node);
        state_quantizer = stateQuantizer is { } state ? quantizers.Activation("state_quantizer", state.Vertex, state.Spec) : null;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var wih = input_quantizer is null ? weight_ih : input_quantizer.call(weight_ih);
        var whh = recurrent_quantizer is null ? weight_hh : recurrent_quantizer.call(weight_hh);
        long batch = x.shape[0], steps = x.shape[1];
        var inputs = functional.linear(x, wih, bias); // [B,T,4H], all steps at once
        var h = zeros(batch, hidden, device: x.device);
        var c = zeros(batch, hidden, device: x.device);
        for (long t = 0; t < steps; t++)
        {
            using var scope = NewDisposeScope();
            var recurrent = state_quantizer is null ? h : state_quantizer.call(h);
            var gates = inputs.select(1, t).Plus(functional.linear(recurrent, whh));
            var chunks = gates.chunk(4, 1);
            var cNext = (chunks[1].sigmoid() * c).Plus(chunks[0].sigmoid() * chunks[2].tanh());
            var hNext = chunks[3].sigmoid() * cNext.tanh();
            c = cNext.MoveToOuterDisposeScope();
            h = hNext.MoveToOuterDisposeScope();
        }
        return h;
    }
}
