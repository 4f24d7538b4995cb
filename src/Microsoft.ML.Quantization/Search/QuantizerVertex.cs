using Microsoft.ML.Quantization.Graph;
namespace Microsoft.ML.Quantization.Search;

/// <summary>
/// A quantizer vertex of a QAG-prepared graph: the weight quantizer of an expensive layer (named
/// "{layer}.weight") or an activation quantizer node. <paramref name="Elements"/> weighs it in the average
/// bitwidth: the weight count, or the activation values per example (an LSTM's recurrent state included).
/// </summary>
internal sealed record QuantizerVertex(string Name, string Layer, bool IsWeight, QuantizerSpec Spec, long Elements, bool IsFixed)
{
    /// <summary>Suffix of weight vertices.</summary>
    public const string WeightSuffix = ".weight";

    /// <summary>
    /// The vertices of <paramref name="graph"/> in graph order; those of <paramref name="fixedLayers"/>
    /// (the first and last layers kept at 8 bits) are not searched but count in the averages.
    /// </summary>
    public static IReadOnlyList<QuantizerVertex> Of(NetworkGraph graph, ISet<string> fixedLayers)
    {
        var result = new List<QuantizerVertex>();
        foreach (var node in graph.Nodes)
        {
            if (node.Kind == NodeKind.Quantize)
            {
                var consumer = graph.Consumers(node.Name).First();
                long elements = Count(graph.Shapes[node.Inputs[0]]);
                if (consumer.Kind == NodeKind.Lstm) elements += (long)graph.Shapes[node.Inputs[0]][0] * consumer.Units; // Q(h_t) at every step
                result.Add(new QuantizerVertex(node.Name, consumer.Name, false, node.ActivationQuantizer!, elements, fixedLayers.Contains(consumer.Name)));
            }
            if (node.WeightQuantizer is not null)
                result.Add(new QuantizerVertex(node.Name + WeightSuffix, node.Name, true, node.WeightQuantizer, WeightCount(graph, node), fixedLayers.Contains(node.Name)));
        }
        return result;
    }

    /// <summary>Weights of an expensive node (an LSTM's four gates, input and recurrent).</summary>
    public static long WeightCount(NetworkGraph graph, GraphNode node)
    {
        var input = graph.Shapes[node.Inputs[0]];
        return node.Kind switch
        {
            NodeKind.Conv2d => (long)node.Units * (input[0] / node.Groups) * node.Kernel * node.Kernel,
            NodeKind.Linear => (long)node.Units * input[^1],
            NodeKind.Embedding => (long)node.Vocabulary * node.Units,
            NodeKind.Lstm => 4L * node.Units * (input[^1] + node.Units),
            _ => throw new ArgumentException($"Node '{node.Name}' ({node.Kind}) has no quantizable weight.", nameof(node)),
        };
    }

    private static long Count(IEnumerable<int> shape) => shape.Aggregate(1L, (a, d) => a * d);
}
