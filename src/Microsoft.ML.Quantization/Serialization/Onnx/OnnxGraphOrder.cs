using Microsoft.ML.Quantization.Serialization.Onnx.Proto;

namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>Orders an ONNX graph's nodes so that each comes after what it reads, refusing cycles, names written twice and names nothing writes.</summary>
internal static class OnnxGraphOrder
{
    /// <summary>The nodes of <paramref name="graph"/> in an order that computes every input first; <paramref name="known"/> are the initializers and the input.</summary>
    /// <exception cref="InvalidDataException">A cycle, an output written twice, or an input that nothing writes.</exception>
    public static List<NodeProto> Sort(GraphProto graph, IEnumerable<string> known)
    {
        var available = new HashSet<string>(known, StringComparer.Ordinal);
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < graph.Node.Count; i++)
        {
            foreach (string output in graph.Node[i].Output.Where(o => o.Length > 0))
            {
                if (available.Contains(output) || !producer.TryAdd(output, i))
                    throw new InvalidDataException($"ONNX node '{graph.Node[i].Name}' ({graph.Node[i].OpType}) writes '{output}', which is already written.");
            }
        }
        var waiting = new int[graph.Node.Count];
        var readers = new Dictionary<int, List<int>>();
        for (int i = 0; i < graph.Node.Count; i++)
        {
            foreach (string input in graph.Node[i].Input.Where(n => n.Length > 0).Distinct())
            {
                if (available.Contains(input)) continue;
                if (!producer.TryGetValue(input, out int from))
                {
                    string what = graph.Input.Any(v => v.Name == input) ? $"the graph input '{input}', which is not the one imported" : $"'{input}', which nothing writes";
                    throw new InvalidDataException($"ONNX node '{graph.Node[i].Name}' ({graph.Node[i].OpType}) reads {what}.");
                }
                waiting[i]++;
                (readers.TryGetValue(from, out var list) ? list : readers[from] = new List<int>()).Add(i);
            }
        }
        // Kahn's algorithm, keeping the file's order among ready nodes.
        var ready = new PriorityQueue<int, int>();
        for (int i = 0; i < waiting.Length; i++)
            if (waiting[i] == 0) ready.Enqueue(i, i);
        var order = new List<NodeProto>(graph.Node.Count);
        while (ready.TryDequeue(out int i, out _))
        {
            order.Add(graph.Node[i]);
            foreach (int reader in readers.GetValueOrDefault(i) ?? new List<int>())
                if (--waiting[reader] == 0) ready.Enqueue(reader, reader);
        }
        if (order.Count != graph.Node.Count)
        {
            var stuck = graph.Node[Array.FindIndex(waiting, w => w > 0)];
            throw new InvalidDataException($"The ONNX graph has a cycle through node '{stuck.Name}' ({stuck.OpType}).");
        }
        return order;
    }
}
