using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
namespace Microsoft.ML.Quantization.Search;

/// <summary>Whether QSS learns one scheme distribution per quantizer vertex or one shared by the whole model.</summary>
public enum SearchGranularity
{
    /// <summary>One set of logits θ per quantizer vertex (AutoQNN's layer-wise search).</summary>
    LayerWise,
    /// <summary>One θ shared by all weight quantizers and one by all activation quantizers (coarse-grained, model-wise).</summary>
    ModelWise,
}

/// <summary>Options of QSS, the quantizing scheme search (AutoQNN §3.2).</summary>
public sealed class SchemeSearchOptions
{
    /// <summary>Bitwidth the candidate schemes are searched at (schemes with a fixed width keep theirs). Default 3.</summary>
    public int SearchBits { get; set; } = 3;

    /// <summary>
    /// Bitwidth the weight candidates are searched at, where it differs from <see cref="SearchBits"/> (null, the
    /// default, takes it). Schemes rank differently at different widths, so a search for weights that will end
    /// near 2 bits and activations near 3 compares each kind at its own.
    /// </summary>
    public int? WeightSearchBits { get; set; }

    /// <summary>Bitwidth the activation candidates are searched at; null (the default) takes <see cref="SearchBits"/>.</summary>
    public int? ActivationSearchBits { get; set; }

    /// <summary>
    /// Candidate schemes of the weight quantizers; null takes all eight (Binary at 1 bit, Ternary and Quaternary
    /// at 2, the others at <see cref="WeightSearchBits"/>, else <see cref="SearchBits"/>).
    /// </summary>
    public IReadOnlyList<QuantizationScheme>? WeightCandidates { get; set; }

    /// <summary>Candidate schemes of the activation quantizers; null takes the eight less Binary, Ternary and Quaternary, as the paper does.</summary>
    public IReadOnlyList<QuantizationScheme>? ActivationCandidates { get; set; }

    /// <summary>Layer-wise (default) or model-wise search.</summary>
    public SearchGranularity Granularity { get; set; } = SearchGranularity.LayerWise;

    /// <summary>Initial Gumbel-softmax temperature τ0. Default 5.</summary>
    public double InitialTemperature { get; set; } = 5;

    /// <summary>Per-epoch decay β of the temperature, τ(t) = τ0·β^t with t in (fractional) epochs. Default 0.2.</summary>
    public double TemperatureDecay { get; set; } = 0.2;

    /// <summary>
    /// Learning rate of the Adam optimizer of the scheme logits θ; null (the default) takes <see cref="LogitTravel"/> over the
    /// search's batches. Adam moves a logit by at most about its learning rate per batch, so the rate 0.01 that was the
    /// default let θ move 0.47 over the main job's 47 search batches, where a choice holding 0.6 of 8 schemes needs a lead of 2.4.
    /// </summary>
    public double? LearningRate { get; set; }

    /// <summary>
    /// How far a scheme logit can move over the whole search where <see cref="LearningRate"/> is null. Default 24: θ's
    /// gradients agree from batch to batch only in part (their mean is 0.1–0.7 of their spread), so a logit moves a
    /// fraction of this, and the schemes' logits part by several units where one scheme is better.
    /// </summary>
    public double LogitTravel { get; set; } = 24;

    /// <summary>
    /// How far a weight vertex's scheme logit can move over the whole search, where an activation's moves
    /// <see cref="LogitTravel"/> (the weight logits are θ times their ratio, so Adam's equal steps on θ go this much further);
    /// beyond <see cref="LogitTravel"/> it is held to one unit a batch (in a search of 32 batches, 2.25 a batch locked a
    /// weight vertex on the worse of two schemes within its first epoch). Default 24, the activations' travel. With 72, on full
    /// Fashion-MNIST VggSmall auto W2A2 (seeds 1–3), accuracy rose by 0.06–0.24 points, but only one seed's weight vertices
    /// all ended at ≥ 0.6 of their probability (the others kept some at 0.37–0.48); and on 240 images the tool's 2-bit ONNX
    /// classifier fell from above 70 % to 58 % validation accuracy, its weight vertices settling early on Quaternary and PotQ.
    /// </summary>
    public double WeightLogitTravel { get; set; } = 24;

    /// <summary>
    /// Factor on QSS's second-order term for every searched vertex: ½ Σ_i π_i (Q_i − Q̄)ᵀ F (Q_i − Q̄), by which the expected
    /// loss of the one scheme kept exceeds that of the mix the search trains (π = softmax(θ), F the empirical Fisher of the
    /// vertex's weights or activations, a running per-vertex scalar). θ's own gradient is first-order and averages to little
    /// near a minimum; the term lets a vertex torn between schemes decide. It rises with the search, from 0 at its first batch
    /// to this factor at its last, so that θ follows the loss before the gap settles the vertex. Default 1, the Taylor
    /// expansion as it stands; 0 leaves it out.
    /// </summary>
    public double CurvatureWeight { get; set; } = 1;

    /// <summary>
    /// Factor on the entropy of every searched vertex's π = softmax(θ), added to the loss so that the search ends on a decision.
    /// The curvature gap settles a vertex whose schemes the loss tells apart at second order; where it cannot (on TextLstm its
    /// fc1 layer ended at 0.36–0.59 of its probability on 5 runs of 6), π stays spread and its argmax is noise. The factor
    /// rises with the square of the search's progress, from 0 at its first batch to this at its last: θ follows the loss
    /// first, and the entropy breaks the ties that remain at the end. (Under Adam a small but steady pull moves θ as far as
    /// the loss's own gradient: rising linearly to 0.02, it locked a toy LeNet search's conv2 weights on Binary, where the
    /// loss chose 4-bit ZoomQ.) Default 0, off: at 0.03 every vertex of the benchmarks' TextLstm and VggSmall searches ended
    /// at 0.99–1.00 of its probability, but test accuracy fell on 7 of 10 runs against the same search without it (README,
    /// Limits), and the tool's 2-bit ONNX classifier, with every choice as without it, validated at 66.7 % of 60 images
    /// against 76.7 %. Where the loss cannot tell two schemes apart, deciding sooner did not decide better.
    /// </summary>
    public double EntropyWeight { get; set; }

    /// <summary>Granularity of the searched weight quantizers. Default per output channel.</summary>
    public QuantizationGranularity WeightGranularity { get; set; } = QuantizationGranularity.PerOutputChannel;

    /// <summary>The weight candidates as specs.</summary>
    internal IReadOnlyList<QuantizerSpec> WeightSpecs() =>
        (WeightCandidates ?? Enum.GetValues<QuantizationScheme>()).Select(s => Spec(s, WeightGranularity, WeightSearchBits ?? SearchBits)).ToList();

    /// <summary>The activation candidates as specs.</summary>
    internal IReadOnlyList<QuantizerSpec> ActivationSpecs() =>
        (ActivationCandidates ?? Enum.GetValues<QuantizationScheme>().Except(new[] { QuantizationScheme.Binary, QuantizationScheme.Ternary, QuantizationScheme.Quaternary }))
        .Select(s => Spec(s, QuantizationGranularity.PerTensor, ActivationSearchBits ?? SearchBits)).ToList();

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        foreach (var (name, bits) in new[] { (nameof(SearchBits), (int?)SearchBits), (nameof(WeightSearchBits), WeightSearchBits), (nameof(ActivationSearchBits), ActivationSearchBits) })
            if (bits is < 2 or > 8) throw new ArgumentOutOfRangeException(name, bits, "The search bitwidth must be between 2 and 8.");
        if (WeightCandidates is { Count: 0 }) throw new ArgumentOutOfRangeException(nameof(WeightCandidates), "Name at least one weight candidate.");
        if (ActivationCandidates is { Count: 0 }) throw new ArgumentOutOfRangeException(nameof(ActivationCandidates), "Name at least one activation candidate.");
        if (!(InitialTemperature > 0) || double.IsInfinity(InitialTemperature)) throw new ArgumentOutOfRangeException(nameof(InitialTemperature), InitialTemperature, "τ0 must be positive and finite.");
        if (!(TemperatureDecay > 0 && TemperatureDecay <= 1)) throw new ArgumentOutOfRangeException(nameof(TemperatureDecay), TemperatureDecay, "β must be in (0, 1].");
        if (LearningRate is double rate && (!(rate > 0) || double.IsInfinity(rate))) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be positive and finite.");
        if (!(LogitTravel > 0) || double.IsInfinity(LogitTravel)) throw new ArgumentOutOfRangeException(nameof(LogitTravel), LogitTravel, "The logits' travel must be positive and finite.");
        if (!(WeightLogitTravel > 0) || double.IsInfinity(WeightLogitTravel)) throw new ArgumentOutOfRangeException(nameof(WeightLogitTravel), WeightLogitTravel, "The logits' travel must be positive and finite.");
        if (!(CurvatureWeight >= 0) || double.IsInfinity(CurvatureWeight)) throw new ArgumentOutOfRangeException(nameof(CurvatureWeight), CurvatureWeight, "The curvature weight must be finite and ≥ 0.");
        if (!(EntropyWeight >= 0) || double.IsInfinity(EntropyWeight)) throw new ArgumentOutOfRangeException(nameof(EntropyWeight), EntropyWeight, "The entropy weight must be finite and ≥ 0.");
        foreach (var spec in WeightSpecs().Concat(ActivationSpecs())) spec.Validate();
    }

    /// <summary>θ's learning rate in a search of <paramref name="steps"/> batches.</summary>
    internal double LearningRateFor(long steps) => LearningRate ?? LogitTravel / Math.Max(steps, 1);

    /// <summary>
    /// The factor on a weight vertex's stored θ in a search of <paramref name="steps"/> batches (null: not known, as
    /// outside training): its travel over the activations', the part beyond theirs held to one unit a batch.
    /// </summary>
    internal double WeightLogitScale(long? steps)
    {
        double travel = WeightLogitTravel <= LogitTravel || steps is null ? WeightLogitTravel : Math.Max(LogitTravel, Math.Min(WeightLogitTravel, steps.Value));
        return travel / LogitTravel;
    }

    /// <summary>τ at <paramref name="epochs"/> epochs into the search (Eq. 3).</summary>
    internal double Temperature(double epochs) => InitialTemperature * Math.Pow(TemperatureDecay, epochs);

    private static QuantizerSpec Spec(QuantizationScheme scheme, QuantizationGranularity granularity, int bits)
    {
        var range = Schemes.SchemeMath.For(scheme);
        return new QuantizerSpec(scheme, Math.Clamp(bits, range.MinBits, range.MaxBits), granularity);
    }
}

/// <summary>Options of QPL, quantizing precision learning (AutoQNN §4).</summary>
public sealed class PrecisionLearningOptions
{
    /// <summary>Weight λ of the precision loss in the total loss. Default 1.</summary>
    public double Lambda { get; set; } = 1;

    /// <summary>Smallest bitwidth a weight quantizer may learn (1 turns a vertex Binary). Default 1.</summary>
    public int MinWeightBits { get; set; } = 1;

    /// <summary>
    /// Smallest bitwidth an activation quantizer may learn. Default 1: at 1 bit an activation becomes ClipQ, whose
    /// one-sided grid {0, Δ} still carries a bit for a ReLU's output (Binary's sign code would carry nothing), so a
    /// 2-bit target stays reachable with the first and last layers at 8 bits.
    /// </summary>
    public int MinActivationBits { get; set; } = 1;

    /// <summary>Largest bitwidth. Default 8.</summary>
    public int MaxBits { get; set; } = 8;

    /// <summary>Learning rate of the Adam optimizer of the bitwidths. Default 0.01.</summary>
    public double LearningRate { get; set; } = 0.01;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (!(Lambda >= 0) || double.IsInfinity(Lambda)) throw new ArgumentOutOfRangeException(nameof(Lambda), Lambda, "λ must be finite and ≥ 0.");
        if (MinWeightBits is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(MinWeightBits), MinWeightBits, "Bits range from 1 to 8.");
        if (MinActivationBits is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(MinActivationBits), MinActivationBits, "Bits range from 1 to 8.");
        if (MaxBits < Math.Max(MinWeightBits, MinActivationBits) || MaxBits > 8) throw new ArgumentOutOfRangeException(nameof(MaxBits), MaxBits, "The largest bitwidth must be ≥ the smallest and ≤ 8.");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be positive and finite.");
    }
}

/// <summary>Options of DQA, quantization with attention (arXiv 2103.13322).</summary>
public sealed class AttentionOptions
{
    /// <summary>The scheme of every branch. Default ClipQ.</summary>
    public QuantizationScheme Scheme { get; set; } = QuantizationScheme.ClipQ;

    /// <summary>Bitwidths of the high, medium and low branches; the last is the final one. Default 8, 4, 2.</summary>
    public IReadOnlyList<int> Bits { get; set; } = new[] { 8, 4, 2 };

    /// <summary>Learning rate of the Adam optimizer of the attention logits. Default 0.01.</summary>
    public double LearningRate { get; set; } = 0.01;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (Bits is null || Bits.Count < 2) throw new ArgumentOutOfRangeException(nameof(Bits), "DQA mixes at least two bitwidths.");
        foreach (int b in Bits) new QuantizerSpec(Scheme, b).Validate();
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be positive and finite.");
    }
}
