using Microsoft.ML.Quantization.Activations;
using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Training.Layers;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training;

/// <summary>
/// A TorchSharp module that executes a (quantized) <see cref="NetworkGraph"/>: one submodule per node,
/// named after it, run in the graph's topological order on a batch [B, ...input shape].
/// </summary>
internal sealed class GraphModule : Module<Tensor, Tensor>
{
    private readonly NetworkGraph graph;
    private readonly ModuleDict<Module<Tensor, Tensor>> layers = new();
    private readonly IQuantizerFactory quantizers;
    // The search stages' learnable logits, bitwidths and attention; null for fixed quantizers.
    private readonly Module? search;

    /// <summary>Builds one submodule per node; <paramref name="quantizers"/> creates the quantizers (fixed by default).</summary>
    public GraphModule(NetworkGraph graph, IQuantizerFactory? quantizers = null) : base("graph")
    {
        this.graph = graph;
        this.quantizers = quantizers ?? FixedQuantizers.Instance;
        foreach (var node in graph.Nodes)
        {
            var layer = Create(node);
            if (layer is not null) layers.Add(StateNames.ModuleName(node.Name), layer);
        }
        search = this.quantizers.Parameters;
        RegisterComponents();
    }

    /// <summary>Prefix of the search parameters' state names.</summary>
    public const string SearchPrefix = "search.";

    /// <summary>The graph this module executes.</summary>
    public NetworkGraph Graph => graph;

    /// <summary>Sum of every BCPReLU's clip regularisation.</summary>
    public Tensor RegularizationLoss()
    {
        var total = zeros(1);
        foreach (var activation in layers.values().OfType<BCPReLU>()) total = total.Plus(activation.RegularizationLoss());
        return total.sum();
    }

    /// <summary>The BCPReLU module of node <paramref name="name"/>.</summary>
    public BCPReLU Activation(string name) => (BCPReLU)layers[StateNames.ModuleName(name)];

    /// <summary>Every activation quantizer, the LSTM state quantizers included.</summary>
    public IEnumerable<QuantActivation> ActivationQuantizers => modules().OfType<QuantActivation>();

    /// <summary>
    /// Freezes every activation quantizer's grid on <paramref name="examples"/> (run in eval mode, in
    /// batches of <paramref name="batchSize"/>), so that scoring uses fixed grids.
    /// </summary>
    public void Calibrate(Tensor examples, int batchSize = 256)
    {
        var quantizers = ActivationQuantizers.ToList();
        if (quantizers.Count == 0) return;
        eval();
        // Each quantizer holds its sample, not every value: it counts the values first, then gathers the drawn ones.
        // Every example yields as many values (the graph's shapes are fixed), so the first batch's count, times the
        // examples over its size, is the whole pass's (EndCalibration checks it against the values gathered).
        long first = Math.Min(batchSize, examples.shape[0]);
        foreach (var q in quantizers) q.BeginCalibration();
        Forward(examples.narrow(0, 0, first), batchSize);
        foreach (var q in quantizers) q.ScaleCount(first, examples.shape[0]);
        foreach (var q in quantizers) q.BeginSampling();
        Forward(examples, batchSize);
        foreach (var q in quantizers) q.EndCalibration();
    }

    /// <summary>
    /// Recomputes every BatchNorm's running mean and variance as the plain average over <paramref name="examples"/>
    /// (BatchNorm in training mode, the rest in eval mode, no gradient). The exponential averages kept during
    /// training lag behind the weights; after a search stage or a short fine-tuning they can cost tens of points.
    /// </summary>
    public void ReestimateBatchNorm(Tensor examples, int batchSize = 256) => Reestimate(examples, batchSize, Array.Empty<QuantActivation>());

    /// <summary>
    /// <see cref="ReestimateBatchNorm"/> with the activation quantizers as in training (each fits its grid to a sample of
    /// each batch) instead of their frozen grids: the statistics the weights were trained with, without the lag of the
    /// exponential averages (a short fine-tuning on a few hundred images leaves them far from it).
    /// </summary>
    public void ReestimateBatchNormAsTrained(Tensor examples, int batchSize = 256) => Reestimate(examples, batchSize, Array.Empty<QuantActivation>(), quantizeAsInTraining: true);

    /// <summary>
    /// <see cref="ReestimateBatchNorm"/> and <see cref="Calibrate"/> again in one pass over the examples of the last calibration
    /// (the quantizers' counts refuse others): each grid is refitted to its input as the re-estimated statistics normalise
    /// it, up to the difference between a batch's statistics and their average over the examples.
    /// </summary>
    public void Recalibrate(Tensor examples, int batchSize = 256) => Reestimate(examples, batchSize, ActivationQuantizers.ToList());

    private void Reestimate(Tensor examples, int batchSize, IReadOnlyList<QuantActivation> quantizers, bool quantizeAsInTraining = false)
    {
        var norms = modules().OfType<TorchSharp.Modules.BatchNorm>().ToList();
        if (norms.Count == 0 && quantizers.Count == 0) return;
        var momenta = norms.Select(n => n.momentum).ToList();
        eval(); // everything else as in scoring (quantizers use their grids, no dropout): deterministic
        // ... or, as trained, the quantizers fit each batch's sample (drawn from TrainingRandom.Current).
        if (quantizeAsInTraining) foreach (var q in ActivationQuantizers) q.train();
        foreach (var norm in norms)
        {
            norm.reset_running_stats();
            norm.momentum = null; // a cumulative average
            norm.train();
        }
        foreach (var q in quantizers) q.BeginResampling();
        Forward(examples, batchSize);
        for (int i = 0; i < norms.Count; i++) norms[i].momentum = momenta[i];
        eval();
        foreach (var q in quantizers) q.EndCalibration();
    }

    private void Forward(Tensor examples, int batchSize)
    {
        using var _ = no_grad();
        for (long start = 0; start < examples.shape[0]; start += batchSize)
        {
            using var scope = NewDisposeScope();
            call(examples.narrow(0, start, Math.Min(batchSize, examples.shape[0] - start)));
        }
    }

    public override Tensor forward(Tensor input) => Run(input)[graph.Output];

    /// <summary>The output of every node (and the input), for tracing a forward pass.</summary>
    public Dictionary<string, Tensor> Run(Tensor input)
    {
        var values = new Dictionary<string, Tensor>(StringComparer.Ordinal) { [NetworkGraph.InputName] = input };
        foreach (var node in graph.Nodes)
        {
            var x = values[node.Inputs[0]];
            values[node.Name] = node.Kind switch
            {
                NodeKind.Add => x.Plus(values[node.Inputs[1]]),
                NodeKind.ReLU => functional.relu(x),
                NodeKind.Sigmoid => functional.sigmoid(x),
                NodeKind.Tanh => functional.tanh(x),
                NodeKind.Concat => cat(node.Inputs.Select(i => values[i]).ToList(), 1),
                NodeKind.Flatten => x.flatten(1),
                NodeKind.GlobalAvgPool => x.mean(new long[] { 2, 3 }),
                NodeKind.MaxPool => functional.max_pool2d(x, node.Kernel, node.Stride, node.Padding),
                NodeKind.AvgPool => functional.avg_pool2d(x, node.Kernel, node.Stride, node.Padding),
                NodeKind.Dropout => functional.dropout(x, node.Rate, training),
                _ => layers[StateNames.ModuleName(node.Name)].call(x),
            };
        }
        return values;
    }

    private Module<Tensor, Tensor>? Create(GraphNode node)
    {
        var input = graph.Shapes[node.Inputs[0]];
        string name = StateNames.ModuleName(node.Name);
        return node.Kind switch
        {
            NodeKind.Conv2d => new QuantConv2d(name, input[0], node, quantizers),
            NodeKind.Linear => new QuantLinear(name, input[0], node, quantizers),
            NodeKind.Embedding => new QuantEmbedding(name, node, quantizers),
            NodeKind.Lstm => new QuantLstm(name, input[1], node, quantizers, StateQuantizer(node)),
            NodeKind.BatchNorm => new CountedBatchNorm(input[0], GraphNode.BatchNormEpsilon, map: input.Length == 3),
            NodeKind.PReLU => PReLU(Math.Max(1, node.Units), 0.25),
            NodeKind.Normalize => new Normalization(name, input[0]),
            NodeKind.BCPReLU => new BCPReLU(node.BCPReLU ?? new BCPReLUOptions(), name),
            NodeKind.Quantize => quantizers.Activation(name, node.Name, node.ActivationQuantizer!),
            _ => null, // parameter-free nodes run inline in forward
        };
    }

    /// <summary>The LSTM's recurrent state uses the same quantizer QAG put on its input edge.</summary>
    private (string Vertex, QuantizerSpec Spec)? StateQuantizer(GraphNode lstm) =>
        graph.Nodes.FirstOrDefault(n => n.Name == lstm.Inputs[0] && n.Kind == NodeKind.Quantize) is { ActivationQuantizer: { } spec } q ? (q.Name, spec) : null;
}
