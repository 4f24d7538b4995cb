namespace Microsoft.ML.Quantization.Graph;

/// <summary>
/// QAG, AutoQNN Algorithm 1: walks the graph from its zero-in-degree vertex in topological order and, for
/// every edge (u, v) into an expensive vertex v, inserts an activation quantizer node between u and v and
/// attaches a weight quantizer to v. Nothing else changes. For an LSTM the weight quantizer covers its
/// four gate matrices and the activation quantizer also applies to the recurrent hidden state (as HitNet
/// does); an Embedding reads token ids, so only its table is quantized.
/// </summary>
public static class Qag
{
    /// <summary>Suffix of the inserted activation quantizer nodes: "{consumer}.q{input index}".</summary>
    public const string QuantizerSuffix = ".q";

    /// <summary>Returns the quantized graph.</summary>
    /// <exception cref="InvalidOperationException">The graph already holds quantizers (QAG never inserts twice).</exception>
    public static NetworkGraph Prepare(NetworkGraph graph, QagOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        options ??= new QagOptions();
        options.Weights.Validate();
        options.Activations.Validate();
        options.EdgeWeights.Validate();
        options.EdgeActivations.Validate();
        if (graph.IsQuantized) throw new InvalidOperationException("The graph already holds quantizers; QAG inserts them once.");

        var expensive = graph.Nodes.Where(n => options.ExpensiveKinds.Contains(n.Kind)).Select(n => n.Name).ToList();
        if (expensive.Count == 0) throw new InvalidOperationException("The graph has no expensive node to quantize.");
        var edges = options.KeepFirstAndLastAt8Bits ? new HashSet<string> { expensive[0], expensive[^1] } : new HashSet<string>();

        var nodes = new List<GraphNode>();
        foreach (var node in graph.Nodes)
        {
            if (!options.ExpensiveKinds.Contains(node.Kind))
            {
                nodes.Add(node);
                continue;
            }
            bool edge = edges.Contains(node.Name);
            var inputs = node.Inputs.ToArray();
            if (node.Kind != NodeKind.Embedding)
            {
                for (int i = 0; i < inputs.Length; i++)
                {
                    string name = $"{node.Name}{QuantizerSuffix}{i}";
                    nodes.Add(new GraphNode { Name = name, Kind = NodeKind.Quantize, Inputs = new[] { inputs[i] }, ActivationQuantizer = edge ? options.EdgeActivations : options.Activations });
                    inputs[i] = name;
                }
            }
            nodes.Add(node with { Inputs = inputs, WeightQuantizer = edge ? options.EdgeWeights : options.Weights });
        }
        return new NetworkGraph(graph.InputShape, nodes, graph.Output);
    }
}
