using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Search;

/// <summary>
/// QSS (AutoQNN §3.2): each searched vertex holds logits θ over its candidate schemes (one θ per vertex, or
/// one shared by all weight and one by all activation vertices) and outputs the Gumbel-softmax mix of Eq. 2,
/// Σ_i softmax((θ + g)/τ)_i·Q_i(x) with g Gumbel noise, τ decaying by Eq. 3. g is drawn once per θ per batch,
/// so a vertex called at every step of an LSTM mixes alike at all of them. Outside training, and at the
/// end, the vertex keeps its argmax scheme. softmax(θ) is recorded after every epoch. A weight vertex's logits are its
/// stored θ times <see cref="SchemeSearchOptions.WeightLogitScale"/>, so that they travel further under the same Adam.
/// With <see cref="SchemeSearchOptions.CurvatureWeight"/> above 0 the loss adds <see cref="SchemeCurvature"/>'s gap for every searched vertex,
/// and with <see cref="SchemeSearchOptions.EntropyWeight"/> above 0 the entropy of every θ's softmax, both rising with the search's progress.
/// </summary>
internal sealed class SchemeSearchQuantizers : SearchQuantizers
{
    private const string WeightKey = "weights", ActivationKey = "activations";
    private readonly SchemeSearchOptions options;
    private readonly IReadOnlyList<QuantizerSpec> weightCandidates, activationCandidates;
    private readonly List<SchemeProbabilities> history = new();
    private readonly Dictionary<string, IReadOnlyList<QuantizerSpec>> candidatesByKey = new(StringComparer.Ordinal);
    private readonly HashSet<string> weightKeys = new(StringComparer.Ordinal);
    private Dictionary<string, Tensor> noise = new(StringComparer.Ordinal);
    private double temperature;
    private double weightScale;
    private double progress;
    private readonly SchemeCurvature? curvature;

    public SchemeSearchQuantizers(IReadOnlyList<QuantizerVertex> vertices, SchemeSearchOptions options) : base(vertices, options.LearningRateFor)
    {
        this.options = options;
        weightCandidates = options.WeightSpecs();
        activationCandidates = options.ActivationSpecs();
        temperature = options.InitialTemperature;
        weightScale = options.WeightLogitScale(null);
        curvature = options.CurvatureWeight > 0 ? new SchemeCurvature(Store, options.CurvatureWeight) : null;
    }

    /// <summary>θ's learning rate in a search of <paramref name="steps"/> batches, which also sets how far the weight logits travel.</summary>
    public override double SearchLearningRate(long steps)
    {
        weightScale = options.WeightLogitScale(steps);
        return base.SearchLearningRate(steps);
    }

    /// <summary>softmax(θ) of every key after every epoch so far.</summary>
    public IReadOnlyList<SchemeProbabilities> History => history;

    protected override Module<Tensor, Tensor> Create(string moduleName, QuantizerVertex vertex)
    {
        var candidates = Candidates(vertex);
        string key = Key(vertex);
        Store.GetOrAdd(key, () => zeros(candidates.Count));
        candidatesByKey[key] = candidates;
        if (vertex.IsWeight) weightKeys.Add(key);
        Action<Tensor, Tensor>? observe = null;
        if (curvature is not null)
        {
            curvature.Register(vertex.Name);
            observe = (branches, latent) => curvature.Observe(vertex.Name, key, branches, latent);
        }
        return new MixtureQuantizer(moduleName, candidates, vertex.IsWeight,
            training => training ? GumbelSoftmax(Logits(key), temperature, Noise(key)) : null,
            () => (int)Store[key].argmax().item<long>(), observe);
    }

    /// <summary>Sets τ and the curvature gap's share of its weight, and draws the batch's noise, which the batch's dispose scope frees.</summary>
    public override void BeforeBatch(double epochs, double progress)
    {
        temperature = options.Temperature(epochs);
        this.progress = progress;
        noise = Store.Keys.ToDictionary(key => key, key => Gumbel(Store[key].shape), StringComparer.Ordinal);
        curvature?.BeforeBatch();
    }

    /// <summary>The vertices' curvature gap and the entropy of their π, where the options ask for them, rising with the search's progress.</summary>
    public override Tensor? Loss()
    {
        var gap = curvature?.Gap(Logits, progress);
        var entropy = Entropy();
        return gap is null ? entropy : entropy is null ? gap : gap.Plus(entropy);
    }

    /// <summary>Σ over every θ of H(softmax) = −Σ_i π_i log π_i, times <see cref="SchemeSearchOptions.EntropyWeight"/> and the square of the search's progress; null where that is 0.</summary>
    private Tensor? Entropy()
    {
        double factor = options.EntropyWeight * progress * progress;
        if (factor == 0) return null;
        Tensor? total = null;
        foreach (string key in Store.Keys)
        {
            var logP = Logits(key).log_softmax(0);
            var h = -(logP.exp() * logP).sum();
            total = total is null ? h : total.Plus(h);
        }
        return total?.Times(factor);
    }

    public override void AfterBackward(long examples) => curvature?.AfterBackward(examples);

    public override IReadOnlyDictionary<string, QuantizerSpec> Result() =>
        Vertices.ToDictionary(v => v.Name, v => v.IsFixed ? v.Spec : Candidates(v)[(int)Store[Key(v)].argmax().item<long>()], StringComparer.Ordinal);

    public override void AfterEpoch(int epoch)
    {
        foreach (string key in Store.Keys)
        {
            using var scope = NewDisposeScope();
            var p = Logits(key).detach().softmax(0);
            history.Add(new SchemeProbabilities(epoch, key, candidatesByKey[key], Values(p)));
        }
    }

    public override void Save(BinaryWriter writer) => WriteRecords(writer, history.Select(h => (h.Epoch, h.Vertex, h.Probabilities)).ToList());

    public override void Load(BinaryReader reader)
    {
        history.Clear();
        foreach (var (epoch, key, p) in ReadRecords(reader))
        {
            if (!candidatesByKey.TryGetValue(key, out var candidates) || candidates.Count != p.Length)
                throw new InvalidDataException($"The QSS checkpoint records vertex '{key}', which this search does not have.");
            history.Add(new SchemeProbabilities(epoch, key, candidates, p));
        }
    }

    /// <summary>The logits of <paramref name="key"/>: θ, scaled for a weight vertex (the scale is positive, so θ's argmax is theirs).</summary>
    private Tensor Logits(string key) => weightKeys.Contains(key) ? Store[key].Times(weightScale) : Store[key];

    /// <summary>Eq. 2: softmax((θ + g)/τ), g Gumbel noise (<paramref name="gumbel"/>, or a fresh draw).</summary>
    internal static Tensor GumbelSoftmax(Tensor logits, double tau, Tensor? gumbel = null) =>
        logits.Plus(gumbel ?? Gumbel(logits.shape)).Over(tau).softmax(0);

    /// <summary>g = −log(−log u), u ~ U(0,1).</summary>
    private static Tensor Gumbel(long[] shape)
    {
        var u = rand(shape, generator: TrainingRandom.Current).Clamp(1e-10, 1 - 1e-10);
        return -(-u.log()).log();
    }

    /// <summary>This batch's noise for θ[key]; null (a fresh draw per call) outside a trainer's batch.</summary>
    private Tensor? Noise(string key) => noise.TryGetValue(key, out var g) && !g.IsInvalid ? g : null;

    private IReadOnlyList<QuantizerSpec> Candidates(QuantizerVertex vertex) => vertex.IsWeight ? weightCandidates : activationCandidates;

    private string Key(QuantizerVertex vertex) =>
        options.Granularity == SearchGranularity.LayerWise ? vertex.Name : vertex.IsWeight ? WeightKey : ActivationKey;
}
