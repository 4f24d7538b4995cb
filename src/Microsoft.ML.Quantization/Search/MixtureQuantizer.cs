using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Search;

/// <summary>
/// A quantizer vertex that outputs a weighted sum of branch quantizers, Σ_i w_i·Q_i(x): QSS's Gumbel-softmax
/// mix over schemes and DQA's attention over bitwidths. The weights come from a callback;
/// where it gives none (QSS outside training) only the chosen branch runs.
/// Each branch keeps its scheme's straight-through gradient, so x receives Σ_i w_i·mask_i·g; the branch
/// values are computed without autograd, which keeps the search's backward pass to one term per branch.
/// A mixed forward shows its branch values and input to an observer where one is given (QSS's <see cref="SchemeCurvature"/>).
/// </summary>
internal sealed class MixtureQuantizer : Module<Tensor, Tensor>
{
    private readonly QuantizerSpec[] branches;
    private readonly bool isWeight;
    private readonly Func<bool, Tensor?> weights;
    private readonly Func<int> choice;
    private readonly Action<Tensor, Tensor>? observe;

    // observe, where given, sees every mixed forward's branch values [K, N] (without autograd) and input.
    public MixtureQuantizer(string name, IReadOnlyList<QuantizerSpec> branches, bool isWeight, Func<bool, Tensor?> weights, Func<int> choice, Action<Tensor, Tensor>? observe = null) : base(name)
    {
        this.branches = branches.ToArray();
        this.isWeight = isWeight;
        this.weights = weights;
        this.choice = choice;
        this.observe = observe;
    }

    public override Tensor forward(Tensor x)
    {
        var w = weights(training);
        if (w is null) return Branch(branches[choice()], x, isWeight, training);
        // Σ w_i·q_i carries the gradient to the weights; x gets g·Σ w_i·mask_i through one straight-through term.
        // The branches are stacked [K,N], so each sum is one product, not K terms (an LSTM's state mixes at every step).
        Tensor values, passing;
        using (no_grad())
        {
            using var sample = !isWeight && training ? SchemeMath.ActivationSample(x.detach()) : null;
            var parts = branches.Select(spec => SchemeMath.For(spec.Scheme).Parts(x, spec.Bits, spec.Granularity, sample)).ToList();
            values = stack(parts.Select(p => p.Values.reshape(-1)), 0);
            using var masks = stack(parts.Select(p => p.Mask?.reshape(-1) ?? ones(x.numel(), dtype: x.dtype, device: x.device)), 0);
            passing = w.detach().matmul(masks).reshape(x.shape);
        }
        observe?.Invoke(values, x);
        return w.matmul(values).reshape(x.shape).Plus((x - x.detach()) * passing);
    }

    /// <summary>One branch: a weight per its granularity, an activation per tensor (a sampled fit in training).</summary>
    public static Tensor Branch(QuantizerSpec spec, Tensor x, bool isWeight, bool training, Tensor? learnedBits = null)
    {
        var scheme = SchemeMath.For(spec.Scheme);
        return isWeight || !training ? scheme.Quantize(x, spec.Bits, spec.Granularity, learnedBits, training) : scheme.QuantizeActivation(x, spec.Bits, learnedBits);
    }
}
