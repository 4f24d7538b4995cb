using Microsoft.ML.Quantization.Activations;

namespace Microsoft.ML.Quantization.Graph;

/// <summary>
/// A network as a directed acyclic graph G(V, E) (AutoQNN §5): an input shape, nodes in topological
/// order, edges given by each node's inputs, and one output node. Build one with
/// <see cref="NetworkGraphBuilder"/> or take a built-in from <see cref="NetworkGraphs"/>.
/// </summary>
public sealed class NetworkGraph
{
    /// <summary>The name by which nodes refer to the graph input.</summary>
    public const string InputName = "input";

    /// <summary>Creates a graph; checks names, edges and order, then infers every shape.</summary>
    /// <exception cref="ArgumentException">The graph is malformed or its shapes do not fit.</exception>
    public NetworkGraph(IReadOnlyList<int> inputShape, IReadOnlyList<GraphNode> nodes, string? output = null)
    {
        ArgumentNullException.ThrowIfNull(inputShape);
        ArgumentNullException.ThrowIfNull(nodes);
        if (nodes.Any(n => n?.Name is null || n.Inputs is null || n.Inputs.Any(i => i is null)))
            throw new ArgumentException("Every node needs a name and a list of input names.", nameof(nodes));
        if (inputShape.Count == 0 || inputShape.Any(d => d < 1)) throw new ArgumentException("The input shape needs positive dimensions.", nameof(inputShape));
        if (nodes.Count == 0) throw new ArgumentException("A graph needs at least one node.", nameof(nodes));
        InputShape = inputShape.ToArray();
        foreach (var node in nodes)
        {
            if (node.BCPReLU is not null && node.Kind != NodeKind.BCPReLU) throw new ArgumentException($"Node '{node.Name}' ({node.Kind}) has BCPReLU options.", nameof(nodes));
            node.BCPReLU?.Validate();
        }
        Nodes = nodes.ToArray();
        Output = output ?? nodes[^1].Name;
        Shapes = ShapeInference.Infer(this);
    }

    /// <summary>Shape of one example, without the batch dimension: [C,H,W] for images, [T] for token ids.</summary>
    public IReadOnlyList<int> InputShape { get; }

    /// <summary>Nodes in topological order.</summary>
    public IReadOnlyList<GraphNode> Nodes { get; }

    /// <summary>Name of the node whose value is the network's output.</summary>
    public string Output { get; }

    /// <summary>Output shape of every node, and of <see cref="InputName"/>, without the batch dimension.</summary>
    public IReadOnlyDictionary<string, int[]> Shapes { get; }

    /// <summary>The node called <paramref name="name"/>.</summary>
    public GraphNode this[string name] => Nodes.FirstOrDefault(n => n.Name == name) ?? throw new KeyNotFoundException($"No node '{name}'.");

    /// <summary>Nodes that read the output of <paramref name="name"/>.</summary>
    public IEnumerable<GraphNode> Consumers(string name) => Nodes.Where(n => n.Inputs.Contains(name));

    /// <summary>Number of output classes or features (the size of the output node's vector).</summary>
    public int OutputSize => Shapes[Output].Aggregate(1, (a, b) => a * b);

    /// <summary>Whether QAG has already inserted quantizers.</summary>
    public bool IsQuantized => Nodes.Any(n => n.Kind == NodeKind.Quantize || n.WeightQuantizer is not null);

    /// <summary>One line per node: name, kind, inputs, output shape and quantizers.</summary>
    public override string ToString() => string.Join("\n", Nodes.Select(n =>
        $"{n.Name,-14} {n.Kind,-13} <- {string.Join(",", n.Inputs),-20} [{string.Join("x", Shapes[n.Name])}]" +
        (n.WeightQuantizer is null ? "" : $" W:{n.WeightQuantizer}") + (n.ActivationQuantizer is null ? "" : $" A:{n.ActivationQuantizer}")
        + (n.BCPReLU?.OutputBits is int bits ? $" O:{bits}" : "")));

    /// <summary>The graph with <paramref name="options"/> (copied) on every BCPReLU node that has none of its own.</summary>
    internal NetworkGraph WithBCPReLUDefaults(BCPReLUOptions options) => Nodes.Any(n => n.Kind == NodeKind.BCPReLU && n.BCPReLU is null)
        ? new(InputShape, Nodes.Select(n => n.Kind == NodeKind.BCPReLU && n.BCPReLU is null ? n with { BCPReLU = options with { } } : n).ToList(), Output)
        : this;
}
