using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Quantization.Training.Layers;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Search;

/// <summary>
/// The quantizer factory and training hooks of one search stage: fixed vertices (the 8-bit first and last
/// layers) get fixed quantizers, every other vertex the stage's relaxation, whose parameters live in one
/// <see cref="SearchParameters"/>.
/// </summary>
internal abstract class SearchQuantizers : IQuantizerFactory, ITrainingHooks
{
    private readonly Dictionary<string, QuantizerVertex> vertices;

    private readonly Func<long, double> learningRate;

    /// <param name="vertices">Every vertex, fixed ones included.</param>
    /// <param name="learningRate">The search parameters' learning rate in a stage of so many batches.</param>
    protected SearchQuantizers(IReadOnlyList<QuantizerVertex> vertices, Func<long, double> learningRate)
    {
        this.vertices = vertices.ToDictionary(v => v.Name, StringComparer.Ordinal);
        Vertices = vertices;
        this.learningRate = learningRate;
    }

    /// <summary>Every vertex, fixed ones included.</summary>
    public IReadOnlyList<QuantizerVertex> Vertices { get; }

    /// <summary>The searched vertices.</summary>
    public IEnumerable<QuantizerVertex> Searched => Vertices.Where(v => !v.IsFixed);

    /// <summary>The learnable parameters of the stage.</summary>
    public SearchParameters Store { get; } = new();

    public Module? Parameters => Store;

    public virtual double SearchLearningRate(long steps) => learningRate(steps);

    public Module<Tensor, Tensor>? Weight(GraphNode node)
    {
        if (node.WeightQuantizer is null) return null;
        var vertex = vertices[node.Name + QuantizerVertex.WeightSuffix];
        return vertex.IsFixed ? FixedQuantizers.Instance.Weight(node) : Create("weight_quantizer", vertex);
    }

    public Module<Tensor, Tensor> Activation(string moduleName, string vertex, QuantizerSpec spec)
    {
        var v = vertices[vertex];
        return v.IsFixed ? FixedQuantizers.Instance.Activation(moduleName, vertex, spec) : Create(moduleName, v);
    }

    /// <summary>The stage's quantizer module for a searched vertex.</summary>
    protected abstract Module<Tensor, Tensor> Create(string moduleName, QuantizerVertex vertex);

    /// <summary>The quantizer each vertex keeps at the end of the stage.</summary>
    public abstract IReadOnlyDictionary<string, QuantizerSpec> Result();

    public virtual void BeforeBatch(double epochs, double progress) { }

    public virtual Tensor? Loss() => null;

    public virtual void AfterBackward(long examples) { }

    public abstract void AfterEpoch(int epoch);

    public abstract void Save(BinaryWriter writer);

    public abstract void Load(BinaryReader reader);

    /// <summary>Writes per-epoch, per-vertex records (the stage's history) into a checkpoint.</summary>
    protected static void WriteRecords(BinaryWriter writer, IReadOnlyCollection<(int Epoch, string Vertex, IReadOnlyList<double> Values)> records)
    {
        writer.Write(records.Count);
        foreach (var (epoch, vertex, values) in records)
        {
            writer.Write(epoch);
            writer.Write(vertex);
            writer.Write(values.Count);
            foreach (double v in values) writer.Write(v);
        }
    }

    /// <summary>Reads what <see cref="WriteRecords"/> wrote.</summary>
    protected static List<(int Epoch, string Vertex, double[] Values)> ReadRecords(BinaryReader reader)
    {
        int count = reader.ReadInt32();
        if (count is < 0 or > 1_000_000) throw new InvalidDataException($"The checkpoint records {count} history entries.");
        var records = new List<(int, string, double[])>(count);
        for (int i = 0; i < count; i++)
        {
            int epoch = reader.ReadInt32();
            string vertex = reader.ReadString();
            int n = reader.ReadInt32();
            if (n is < 0 or > 64) throw new InvalidDataException($"The checkpoint records {n} values for vertex '{vertex}'.");
            records.Add((epoch, vertex, Enumerable.Range(0, n).Select(_ => reader.ReadDouble()).ToArray()));
        }
        return records;
    }

    /// <summary>The values of a 1-D parameter as doubles.</summary>
    protected static double[] Values(Tensor t)
    {
        using var _ = no_grad();
        using var cpu = t.detach().cpu().to(ScalarType.Float64);
        return cpu.data<double>().ToArray();
    }
}
