namespace Microsoft.ML.Quantization.Graph;

/// <summary>Checks a graph's structure and infers the output shape of every node, with errors that name the node.</summary>
internal static class ShapeInference
{
    public static IReadOnlyDictionary<string, int[]> Infer(NetworkGraph graph)
    {
        var shapes = new Dictionary<string, int[]>(StringComparer.Ordinal) { [NetworkGraph.InputName] = graph.InputShape.ToArray() };
        foreach (var node in graph.Nodes)
        {
            if (string.IsNullOrWhiteSpace(node.Name)) throw new ArgumentException("Every node needs a name.");
            if (shapes.ContainsKey(node.Name)) throw new ArgumentException($"The name '{node.Name}' is used twice (or is the reserved input name).");
            int arity = node.Kind == NodeKind.Add ? 2 : 1;
            if (node.Kind == NodeKind.Concat ? node.Inputs.Count < 2 : node.Inputs.Count != arity)
                throw new ArgumentException($"{node.Kind} '{node.Name}' takes {(node.Kind == NodeKind.Concat ? "two or more" : arity.ToString())} input(s), has {node.Inputs.Count}.");
            var inputs = node.Inputs.Select(i => shapes.TryGetValue(i, out var s) ? s
                : throw new ArgumentException($"{node.Kind} '{node.Name}' reads '{i}', which is not an earlier node.")).ToArray();
            shapes[node.Name] = OutputShape(node, inputs);
            node.WeightQuantizer?.Validate();
            node.ActivationQuantizer?.Validate();
            if (node.Kind == NodeKind.Quantize && node.ActivationQuantizer is null)
                throw new ArgumentException($"Quantize '{node.Name}' has no activation quantizer.");
        }
        if (!graph.Nodes.Any(n => n.Name == graph.Output)) throw new ArgumentException($"The output '{graph.Output}' is not a node.");
        return shapes;
    }

    /// <summary>The output shape of <paramref name="node"/> given its inputs' shapes.</summary>
    internal static int[] OutputShape(GraphNode node, int[][] inputs)
    {
        int[] x = inputs[0];
        string where = $"{node.Kind} '{node.Name}'";
        switch (node.Kind)
        {
            case NodeKind.Conv2d:
                Rank(where, x, 3, "[C,H,W]");
                Positive(where, node.Units, "output channels");
                Declared(where, node.InputUnits, x[0], "input channels");
                if (node.Groups < 1 || x[0] % node.Groups != 0 || node.Units % node.Groups != 0)
                    throw new ArgumentException($"{where} has {node.Groups} groups for {x[0]} input and {node.Units} output channels; both must divide by it.");
                return new[] { node.Units, Window(where, x[1], node), Window(where, x[2], node) };
            case NodeKind.MaxPool or NodeKind.AvgPool:
                Rank(where, x, 3, "[C,H,W]");
                return new[] { x[0], Window(where, x[1], node), Window(where, x[2], node) };
            case NodeKind.GlobalAvgPool:
                Rank(where, x, 3, "[C,H,W]");
                return new[] { x[0] };
            case NodeKind.Linear:
                if (x.Length != 1) throw new ArgumentException($"{where} expects a vector, receives [{string.Join("x", x)}]; insert a Flatten.");
                Positive(where, node.Units, "output features");
                Declared(where, node.InputUnits, x[0], "inputs");
                return new[] { node.Units };
            case NodeKind.Flatten:
                return new[] { x.Aggregate(1, (a, b) => checked(a * b)) };
            case NodeKind.Add:
                if (!x.SequenceEqual(inputs[1]))
                    throw new ArgumentException($"{where} adds [{string.Join("x", x)}] to [{string.Join("x", inputs[1])}]; the shapes must be equal.");
                return x;
            case NodeKind.Embedding:
                Rank(where, x, 1, "[T] token ids");
                Positive(where, node.Units, "embedding size");
                Positive(where, node.Vocabulary, "vocabulary size");
                return new[] { x[0], node.Units };
            case NodeKind.Lstm:
                Rank(where, x, 2, "[T,D]");
                Positive(where, node.Units, "hidden size");
                Declared(where, node.InputUnits, x[1], "input features");
                return new[] { node.Units };
            case NodeKind.Dropout:
                if (node.Rate is < 0 or >= 1) throw new ArgumentException($"{where} has rate {node.Rate}; it must be in [0, 1).");
                return x;
            case NodeKind.Concat:
                if (inputs.Any(s => s.Length != x.Length || s.Length is not (1 or 3) || !s.Skip(1).SequenceEqual(x.Skip(1))))
                    throw new ArgumentException($"{where} joins {string.Join(", ", inputs.Select(s => $"[{string.Join("x", s)}]"))}; it joins [C,H,W] maps of one size along C, or vectors.");
                return x.Skip(1).Prepend(inputs.Sum(s => s[0])).ToArray();
            case NodeKind.PReLU:
                if (node.Units > 1 && node.Units != x[0]) throw new ArgumentException($"{where} has {node.Units} slopes for {x[0]} channels; give one, or one per channel.");
                return x;
            case NodeKind.BatchNorm or NodeKind.ReLU or NodeKind.BCPReLU or NodeKind.Quantize or NodeKind.Sigmoid or NodeKind.Tanh or NodeKind.Normalize:
                return x;
            default:
                throw new ArgumentException($"{where}: unknown kind.");
        }
    }

    private static int Window(string where, int size, GraphNode node)
    {
        if (node.Kernel < 1 || node.Stride < 1 || node.Padding < 0) throw new ArgumentException($"{where} needs kernel and stride ≥ 1 and padding ≥ 0.");
        int output = (size + 2 * node.Padding - node.Kernel) / node.Stride + 1;
        if (output < 1) throw new ArgumentException($"{where} with kernel {node.Kernel} does not fit its {size}-wide input.");
        return output;
    }

    private static void Rank(string where, int[] shape, int rank, string expected)
    {
        if (shape.Length != rank) throw new ArgumentException($"{where} expects {expected}, receives [{string.Join("x", shape)}].");
    }

    private static void Positive(string where, int value, string what)
    {
        if (value < 1) throw new ArgumentException($"{where} needs a positive {what}, has {value}.");
    }

    private static void Declared(string where, int? declared, int actual, string what)
    {
        if (declared is int d && d != actual) throw new ArgumentException($"{where} expects {d} {what}, receives {actual}.");
    }
}
