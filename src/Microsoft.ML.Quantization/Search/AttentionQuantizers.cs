using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Search;

/// <summary>
/// DQA (arXiv 2103.13322): every searched vertex outputs an attention-weighted mix of the same scheme at a
/// high, a medium and a low bitwidth, a = T·softmax(α) + (1 − T)·e_low, with learnable logits α and a
/// temperature T = cos²(π·t / 2E) that falls from 1 to 0 over the E epochs, so the attention converges on
/// the low-bit branch and the net at the end is purely low-bit.
/// </summary>
internal sealed class AttentionQuantizers : SearchQuantizers
{
    private readonly AttentionOptions options;
    private readonly int epochs;
    private readonly List<BranchAttention> history = new();
    private double temperature = 1;

    public AttentionQuantizers(IReadOnlyList<QuantizerVertex> vertices, AttentionOptions options, int epochs) : base(vertices, _ => options.LearningRate)
    {
        this.options = options;
        this.epochs = Math.Max(1, epochs);
    }

    /// <summary>Attention of every searched vertex after every epoch so far.</summary>
    public IReadOnlyList<BranchAttention> History => history;

    protected override Module<Tensor, Tensor> Create(string moduleName, QuantizerVertex vertex)
    {
        var branches = options.Bits.Select(b => new QuantizerSpec(options.Scheme, b, vertex.Spec.Granularity)).ToList();
        Store.GetOrAdd(vertex.Name, () => zeros(branches.Count));
        return new MixtureQuantizer(moduleName, branches, vertex.IsWeight, _ => Attention(vertex.Name), () => branches.Count - 1);
    }

    public override void BeforeBatch(double done, double progress) => temperature = Temperature(done);

    /// <summary>T after <paramref name="done"/> epochs of <c>E</c>.</summary>
    internal double Temperature(double done) => Math.Pow(Math.Cos(Math.PI / 2 * Math.Clamp(done / epochs, 0, 1)), 2);

    public override IReadOnlyDictionary<string, QuantizerSpec> Result() =>
        Vertices.ToDictionary(v => v.Name, v => v.IsFixed ? v.Spec : new QuantizerSpec(options.Scheme, options.Bits[^1], v.Spec.Granularity), StringComparer.Ordinal);

    public override void AfterEpoch(int epoch)
    {
        temperature = Temperature(epoch);
        foreach (var v in Searched)
        {
            using var a = Attention(v.Name).detach();
            history.Add(new BranchAttention(epoch, v.Name, options.Bits, Values(a)));
        }
    }

    public override void Save(BinaryWriter writer) => WriteRecords(writer, history.Select(h => (h.Epoch, h.Vertex, h.Attention)).ToList());

    public override void Load(BinaryReader reader)
    {
        history.Clear();
        history.AddRange(ReadRecords(reader).Select(r => new BranchAttention(r.Epoch, r.Vertex, options.Bits, r.Values)));
    }

    private Tensor Attention(string vertex)
    {
        var soft = Store[vertex].softmax(0);
        var low = zeros_like(soft);
        low[-1] = 1;
        return soft.Times(temperature).Plus(low.Times(1 - temperature));
    }
}
