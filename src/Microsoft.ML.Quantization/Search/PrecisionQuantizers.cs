using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
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
        var scheme = Schemes.SchemeMath.For(vertex.Spec.Scheme);
        int min = vertex.IsWeight ? options.MinWeightBits : options.MinActivationBits;
        int low = Math.Max(min, scheme.MinBits == 2 && min <= 1 ? 1 : scheme.MinBits), high = Math.Min(options.MaxBits, scheme.MaxBits);
        return low > high ? new PrecisionVertex(vertex, vertex.Spec.Bits, vertex.Spec.Bits) : new PrecisionVertex(vertex, low, high);
    }

    /// <summary>
    /// The vertex's quantizer at <paramref name="bits"/>. At 1 bit, where its scheme starts at 2, a weight becomes
    /// Binary and an activation ClipQ: Binary's sign code says nothing about a ReLU's non-negative output,
    /// while ClipQ's one-sided 1-bit grid {0, Δ} keeps whether the value is large. At any other width its scheme
    /// lacks (the allocation needed it to meet the target), it becomes ClipQ, which has every width from 1 to 8.
    /// </summary>
    public QuantizerSpec SpecAt(int bits)
    {
        var spec = Vertex.Spec;
        var scheme = Schemes.SchemeMath.For(spec.Scheme);
        if (bits >= scheme.MinBits && bits <= scheme.MaxBits) return spec with { Bits = bits };
        if (bits == 1) return spec with { Scheme = Vertex.IsWeight ? QuantizationScheme.Binary : QuantizationScheme.ClipQ, Bits = 1 };
        return spec with { Scheme = QuantizationScheme.ClipQ, Bits = bits };
    }
}

/// <summary>
/// QPL (AutoQNN §4): every searched vertex learns a continuous bitwidth (<see cref="LearnedBitsQuantizer"/>),
/// and the precision loss of Eq. 6, L_p = (B̄_w − T_w)² + (B̄_a − T_a)², pulls the element-weighted average
/// bitwidths B̄ (fixed 8-bit vertices included) to the targets; the trainer adds λ·L_p to the task loss.
/// At the end <see cref="BitAllocation"/> turns the learned widths into integer bits whose averages meet the targets
/// within 0.1 bit below, within each scheme's widths where they allow it, else within every width from the options'
/// smallest to <see cref="PrecisionLearningOptions.MaxBits"/> (<see cref="PrecisionVertex.SpecAt"/>).
/// </summary>
internal sealed class PrecisionQuantizers : SearchQuantizers
{
    private readonly PrecisionLearningOptions options;
    private readonly double weightTarget, activationTarget;
    private readonly Dictionary<string, PrecisionVertex> precision;
    private readonly List<LearnedBits> history = new();

    public PrecisionQuantizers(IReadOnlyList<QuantizerVertex> vertices, PrecisionLearningOptions options, double weightTarget, double activationTarget)
        : base(vertices, _ => options.LearningRate)
    {
        this.options = options;
        this.weightTarget = weightTarget;
        this.activationTarget = activationTarget;
        precision = Searched.ToDictionary(v => v.Name, v => PrecisionVertex.Of(v, options), StringComparer.Ordinal);
        foreach (var v in Searched) Store.GetOrAdd(v.Name, () => tensor((float)Math.Clamp(v.Spec.Bits, precision[v.Name].MinBits, precision[v.Name].MaxBits)));
    }

    /// <summary>Bits of every searched vertex after every epoch so far.</summary>
    public IReadOnlyList<LearnedBits> History => history;

    protected override Module<Tensor, Tensor> Create(string moduleName, QuantizerVertex vertex) =>
        new LearnedBitsQuantizer(moduleName, precision[vertex.Name], () => Store[vertex.Name]);

    public override Tensor? Loss() => options.Lambda == 0 ? null : PrecisionLoss().Times(options.Lambda);

    /// <summary>Eq. 6 with the continuous, clipped bitwidths.</summary>
    public Tensor PrecisionLoss()
    {
        Tensor Average(bool weights)
        {
            Tensor total = zeros(1);
            double elements = 0;
            foreach (var v in Vertices.Where(v => v.IsWeight == weights))
            {
                total = total.Plus((v.IsFixed ? tensor((float)v.Spec.Bits) : Store[v.Name].Clamp(precision[v.Name].MinBits, precision[v.Name].MaxBits)).Times(v.Elements));
                elements += v.Elements;
            }
            return elements == 0 ? zeros(1) : total.Over(elements);
        }
        var w = Average(true).Minus(weightTarget);
        var a = Vertices.Any(v => !v.IsWeight) ? Average(false).Minus(activationTarget) : zeros(1);
        return w.Squared().Plus(a.Squared()).sum();
    }

    public override IReadOnlyDictionary<string, QuantizerSpec> Result()
    {
        var bits = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (bool weights in new[] { true, false })
        {
            var group = Vertices.Where(v => v.IsWeight == weights).ToList();
            double target = weights ? weightTarget : activationTarget;
            string role = weights ? "weight" : "activation";
            IReadOnlyDictionary<string, int> chosen;
            try
            {
                chosen = BitAllocation.Allocate(Items(group, v => (precision[v.Name].MinBits, precision[v.Name].MaxBits)), target, role);
            }
            catch (UnreachableBitTargetException)
            {
                // The schemes QSS chose lack the widths the target needs; every width is reachable as ClipQ.
                chosen = BitAllocation.Allocate(Items(group, v => WidestRange(v, options)), target, role);
            }
            foreach (var (name, b) in chosen) bits[name] = b;
        }
        return Vertices.ToDictionary(v => v.Name, v => v.IsFixed ? v.Spec : precision[v.Name].SpecAt(bits[v.Name]), StringComparer.Ordinal);
    }

    /// <summary>
    /// Throws <see cref="UnreachableBitTargetException"/> unless some widths of <paramref name="vertices"/> (each searched one
    /// anywhere from the options' smallest to their largest width, the fixed ones at theirs) meet both targets: run before any
    /// search epoch, so that an unreachable target fails before the work, not after it.
    /// </summary>
    public static void EnsureReachable(IReadOnlyList<QuantizerVertex> vertices, PrecisionLearningOptions options, double weightTarget, double activationTarget)
    {
        foreach (bool weights in new[] { true, false })
        {
            var group = vertices.Where(v => v.IsWeight == weights).ToList();
            var items = group.Select(v => v.IsFixed ? FixedItem(v) : SearchedItem(v, WidestRange(v, options), 0)).ToList();
            BitAllocation.Allocate(items, weights ? weightTarget : activationTarget, weights ? "weight" : "activation");
        }
    }

    private List<AllocationItem> Items(IEnumerable<QuantizerVertex> group, Func<QuantizerVertex, (int Min, int Max)> range) =>
        group.Select(v => v.IsFixed ? FixedItem(v) : SearchedItem(v, range(v), Store[v.Name].item<float>())).ToList();

    private static AllocationItem FixedItem(QuantizerVertex v) => new(v.Name, v.Elements, v.Spec.Bits, v.Spec.Bits, v.Spec.Bits);

    private static AllocationItem SearchedItem(QuantizerVertex v, (int Min, int Max) range, double learned) =>
        new(v.Name, v.Elements, range.Min, range.Max, Math.Clamp(learned, range.Min, range.Max));

    private static (int Min, int Max) WidestRange(QuantizerVertex v, PrecisionLearningOptions options) =>
        (v.IsWeight ? options.MinWeightBits : options.MinActivationBits, options.MaxBits);

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
