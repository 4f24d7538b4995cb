using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Search;

/// <summary>A QPL vertex: its scheme from QSS and the bitwidths it may learn.</summary>
internal sealed record PrecisionVertex(QuantizerVertex Vertex, int MinBits, int MaxBits)
{
    /// <summary>
    /// The bit range of <paramref name="vertex"/>'s scheme within the options' range; a 2-bit-minimum scheme
    /// may also go down to 1 bit (see <see cref="SpecAt"/>) if the options allow 1 bit.
    /// </summary>
    public static PrecisionVertex Of(QuantizerVertex vertex, PrecisionLearningOptions options)
    {
        var scheme = Schemes.QuantizerScheme.For(vertex.Spec.Scheme);
        int min = vertex.IsWeight ? options.MinWeightBits : options.MinActivationBits;
        int low = Math.Max(min, scheme.MinBits == 2 && min <= 1 ? 1 : scheme.MinBits), high = Math.Min(options.MaxBits, scheme.MaxBits);
        return low > high ? new PrecisionVertex(vertex, vertex.Spec.Bits, vertex.Spec.Bits) : new PrecisionVertex(vertex, low, high);
    }

    /// <summary>
    /// The vertex's quantizer at <paramref name="bits"/>. At 1 bit, where its scheme starts at 2, a weight becomes
    /// Binary and an activation ClipQ: Binary's sign code says nothing about a ReLU's non-negative output,
    /// while ClipQ's one-sided 1-bit grid {0, Δ} keeps whether the value is large.
    /// </summary>
    public QuantizerSpec SpecAt(int bits)
    {
        var spec = Vertex.Spec;
        var scheme = Schemes.QuantizerScheme.For(spec.Scheme);
        if (bits >= scheme.MinBits && bits <= scheme.MaxBits) return spec with { Bits = bits };
        if (bits == 1) return spec with { Scheme = Vertex.IsWeight ? QuantizationScheme.Binary : QuantizationScheme.ClipQ, Bits = 1 };
        throw new ArgumentOutOfRangeException(nameof(bits), bits, $"{spec.Scheme} has no {bits}-bit form.");
    }
}

/// <summary>
/// QPL (AutoQNN §4): every searched vertex learns a continuous bitwidth (<see cref="LearnedBitsQuantizer"/>),
/// and the precision loss of Eq. 6, L_p = (B̄_w − T_w)² + (B̄_a − T_a)², pulls the element-weighted average
/// bitwidths B̄ (fixed 8-bit vertices included) to the targets; the trainer adds λ·L_p to the task loss.
/// At the end the bits are rounded; while an average then exceeds its target, one vertex steps down a bit:
/// the smallest whose step meets the target, else the one whose rounding added the most bits. Then, while a
/// vertex below its learned width can step up a bit within the target, the one whose rounding cut the most does.
/// </summary>
internal sealed class PrecisionQuantizers : SearchQuantizers
{
    private readonly PrecisionLearningOptions options;
    private readonly double weightTarget, activationTarget;
    private readonly Dictionary<string, PrecisionVertex> precision;
    private readonly List<LearnedBits> history = new();
    private readonly List<string> unreachable = new();

    public PrecisionQuantizers(IReadOnlyList<QuantizerVertex> vertices, PrecisionLearningOptions options, double weightTarget, double activationTarget)
        : base(vertices, options.LearningRate)
    {
        this.options = options;
        this.weightTarget = weightTarget;
        this.activationTarget = activationTarget;
        precision = Searched.ToDictionary(v => v.Name, v => PrecisionVertex.Of(v, options), StringComparer.Ordinal);
        foreach (var v in Searched) Store.GetOrAdd(v.Name, () => tensor((float)Math.Clamp(v.Spec.Bits, precision[v.Name].MinBits, precision[v.Name].MaxBits)));
    }

    /// <summary>Bits of every searched vertex after every epoch so far.</summary>
    public IReadOnlyList<LearnedBits> History => history;

    /// <summary>Why the last <see cref="Result"/> left an average above its target, one line per role; empty when both are met.</summary>
    public IReadOnlyList<string> Unreachable => unreachable;

    protected override Module<Tensor, Tensor> Create(string moduleName, QuantizerVertex vertex) =>
        new LearnedBitsQuantizer(moduleName, precision[vertex.Name], () => Store[vertex.Name]);

    public override Tensor? Loss() => options.Lambda == 0 ? null : options.Lambda * PrecisionLoss();

    /// <summary>Eq. 6 with the continuous, clipped bitwidths.</summary>
    public Tensor PrecisionLoss()
    {
        Tensor Average(bool weights)
        {
            Tensor total = zeros(1);
            double elements = 0;
            foreach (var v in Vertices.Where(v => v.IsWeight == weights))
            {
                total = total + (v.IsFixed ? tensor((float)v.Spec.Bits) : Store[v.Name].clamp(precision[v.Name].MinBits, precision[v.Name].MaxBits)) * v.Elements;
                elements += v.Elements;
            }
            return elements == 0 ? zeros(1) : total / elements;
        }
        var w = Average(true) - weightTarget;
        var a = Vertices.Any(v => !v.IsWeight) ? Average(false) - activationTarget : zeros(1);
        return (w.square() + a.square()).sum();
    }

    public override IReadOnlyDictionary<string, QuantizerSpec> Result()
    {
        var continuous = Searched.ToDictionary(v => v.Name, v => Math.Clamp((double)Store[v.Name].item<float>(), precision[v.Name].MinBits, precision[v.Name].MaxBits));
        var bits = continuous.ToDictionary(p => p.Key, p => (int)Math.Round(p.Value));
        unreachable.Clear();
        foreach (bool weights in new[] { true, false })
        {
            double target = weights ? weightTarget : activationTarget;
            var group = Vertices.Where(v => v.IsWeight == weights).ToList();
            long elements = group.Sum(v => v.Elements);
            double Average() => elements == 0 ? 0 : group.Sum(v => (double)v.Elements * (v.IsFixed ? v.Spec.Bits : bits[v.Name])) / elements;
            while (Average() > target + 1e-9)
            {
                var lowerable = group.Where(v => !v.IsFixed && bits[v.Name] > precision[v.Name].MinBits).ToList();
                if (lowerable.Count == 0)
                {
                    string role = weights ? "weight" : "activation", option = weights ? nameof(PrecisionLearningOptions.MinWeightBits) : nameof(PrecisionLearningOptions.MinActivationBits);
                    unreachable.Add($"the {role} average {Average():F3} stays above its target {target:F3}: every searched {role} quantizer is at its smallest width ({option}), and the fixed layers count in the average.");
                    break;
                }
                double excess = (Average() - target) * elements;
                // The smallest vertex whose one-bit step meets the target, else the one whose rounding added the most bits.
                var lower = lowerable.Where(v => v.Elements >= excess - 1e-9).OrderBy(v => v.Elements).FirstOrDefault()
                    ?? lowerable.OrderByDescending(v => (bits[v.Name] - continuous[v.Name]) * v.Elements).First();
                bits[lower.Name]--;
            }
            // Rounding down can leave budget unused (a 2-bit target ended at 1.81 bits): while a vertex below its learned
            // width can step up a bit and keep the average within the target, the one whose rounding cut the most does.
            while (true)
            {
                double room = (target - Average()) * elements + 1e-9;
                var raise = group.Where(v => !v.IsFixed && bits[v.Name] < continuous[v.Name] && v.Elements <= room)
                    .OrderByDescending(v => continuous[v.Name] - bits[v.Name]).FirstOrDefault();
                if (raise is null) break;
                bits[raise.Name]++;
            }
        }
        return Vertices.ToDictionary(v => v.Name, v => v.IsFixed ? v.Spec : precision[v.Name].SpecAt(bits[v.Name]), StringComparer.Ordinal);
    }

    public override void AfterEpoch(int epoch)
    {
        foreach (var v in Searched) history.Add(new LearnedBits(epoch, v.Name, Store[v.Name].item<float>()));
    }

    public override void Save(BinaryWriter writer) => WriteRecords(writer, history.Select(h => (h.Epoch, h.Vertex, (IReadOnlyList<double>)new[] { h.Bits })).ToList());

    public override void Load(BinaryReader reader)
    {
        history.Clear();
        history.AddRange(ReadRecords(reader).Select(r => new LearnedBits(r.Epoch, r.Vertex, r.Values.Single())));
    }
}
