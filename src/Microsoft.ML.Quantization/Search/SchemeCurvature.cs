using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Search;

/// <summary>
/// QSS's second-order term (<see cref="SchemeSearchOptions.CurvatureWeight"/>). The search trains the loss of the mixed
/// quantizer output Q̄ = Σ_i p_i·Q_i(x) (x a vertex's weights or activations), but keeps one scheme. θ's gradient is
/// first-order: it sees &lt;∇L, Q_i − Q̄&gt;, and the weights, trained under the mix, settle where ∇L at Q̄ averages to about
/// zero, so what θ sees is batch noise; what tells the schemes apart is second order. To second order, with F the diagonal
/// empirical Fisher standing for the Hessian, the expected loss of the kept scheme, Σ_i π_i·L(Q_i) with π = softmax(θ),
/// exceeds the mixture's L(Q̄_π) by ½ Σ_i π_i (Q_i − Q̄_π)ᵀ F (Q_i − Q̄_π). Added to the loss, that gap trains θ on the loss
/// of what will be kept: a scheme far from where the mix sits loses probability, so a vertex torn between schemes the
/// loss barely tells apart decides. Its factor rises with the search's progress, from 0 at the first batch: at the start
/// the mix sits at the candidates' centroid, and a full gap then locked the scheme nearest it (the TextLstm embedding took
/// Quaternary within the first epoch and auto W2A2 scored 94.52 % where the search without the gap reached 97.50 %).
/// F is taken per vertex as a scalar: a running mean of the batch size times the mean squared gradient of x (the variance
/// of a batch-mean gradient is the per-example Fisher over the batch size; for an activation, the batch-mean loss's
/// gradient of one example's values is its own over the batch size, and the loss weighs its curvature by the same).
/// </summary>
internal sealed class SchemeCurvature
{
    /// <summary>Weight of the newest batch in F's running mean (about the last ten batches).</summary>
    private const double Smoothing = 0.1;

    private readonly SearchParameters store;
    private readonly double weight;
    private readonly List<Observed> batch = new();

    /// <summary>
    /// One mixture's forward in this batch: the Gram matrix [K, K] of its branch values, centred on their mean over the
    /// branches, and its input (weights or activations).
    /// </summary>
    private sealed record Observed(string Vertex, string Key, Tensor Gram, Tensor Latent);

    /// <param name="store">The stage's parameters, which keep each vertex's F with its checkpoints.</param>
    /// <param name="weight">The factor on the gap.</param>
    public SchemeCurvature(SearchParameters store, double weight)
    {
        this.store = store;
        this.weight = weight;
    }

    /// <summary>Creates the F of vertex <paramref name="vertex"/> (0 until its first backward pass).</summary>
    public void Register(string vertex) => Fisher(vertex);

    /// <summary>
    /// Records a mixture's forward of this batch; <paramref name="key"/> names its θ. An input that is not a leaf
    /// (activations, or an embedding's rows in use, selected from its table) keeps its gradient, which autograd would otherwise drop.
    /// </summary>
    public void Observe(string vertex, string key, Tensor branches, Tensor latent)
    {
        if (!latent.is_leaf && latent.requires_grad) latent.retain_grad();
        // Σ_i π_i‖Q_i − Q̄‖² = Σ_i π_i G_ii − πᵀGπ with G the branches' Gram matrix: one product over the N values here, so
        // the gap's forward and backward passes cost K×K, not K×N (a VggSmall activation holds millions of values).
        // Centring first (the spread does not change) keeps the difference from cancelling in single precision.
        using var _ = no_grad();
        using var centred = branches - branches.mean(new long[] { 0 }, keepdim: true);
        batch.Add(new Observed(vertex, key, centred.matmul(centred.t()).to(ScalarType.Float64), latent));
    }

    /// <summary>Forgets the previous batch's forwards.</summary>
    public void BeforeBatch() => batch.Clear();

    /// <summary>
    /// The gap of every mixture of this batch, differentiable in θ through <paramref name="logits"/>, weighted by the factor
    /// times <paramref name="progress"/> (the search's share done, 0 to 1); null where no vertex has an F yet (the first batch).
    /// </summary>
    public Tensor? Gap(Func<string, Tensor> logits, double progress)
    {
        Tensor? total = null;
        foreach (var o in batch)
        {
            double fisher = Fisher(o.Vertex).item<float>();
            if (fisher == 0 || o.Gram.IsInvalid) continue;
            var p = logits(o.Key).softmax(0).to(ScalarType.Float64);
            var gap = (p.dot(o.Gram.diagonal()) - p.dot(o.Gram.matmul(p))).Times(0.5 * fisher * weight * progress).to(ScalarType.Float32);
            total = total is null ? gap : total.Plus(gap);
        }
        return total;
    }

    /// <summary>After the batch's backward pass: each observed vertex's F moves towards <paramref name="examples"/> × its input's mean squared gradient.</summary>
    public void AfterBackward(long examples)
    {
        using var _ = no_grad();
        foreach (var vertex in batch.GroupBy(o => o.Vertex))
        {
            double squares = 0;
            long count = 0;
            foreach (var latent in vertex.Select(o => o.Latent).Distinct())
            {
                using var gradient = latent.grad;
                if (gradient is null) continue;
                squares += gradient.Squared().sum().item<float>();
                count += gradient.numel();
            }
            if (count == 0) continue;
            double sample = examples * squares / count;
            var fisher = Fisher(vertex.Key);
            double previous = fisher.item<float>();
            fisher.FillInPlace(previous == 0 ? sample : previous + Smoothing * (sample - previous));
        }
    }

    /// <summary>The F of <paramref name="vertex"/>, a one-element statistic of the stage.</summary>
    public Tensor Fisher(string vertex) => store.Statistic("curvature." + vertex, () => zeros(1));
}
