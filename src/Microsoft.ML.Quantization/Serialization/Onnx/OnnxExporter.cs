using Microsoft.ML.Quantization.Graph;
namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>
/// Writes an FP32 <see cref="ExportedModel"/> as an ONNX model (IR 8, opset 17) with a dynamic batch
/// dimension: input "input" [N, ...graph input] (float, or int64 token ids for an embedding graph), output
/// "logits" [N, classes]. Quantized graphs are refused: ONNX has no operators for their sub-8-bit grids.
/// </summary>
internal static class OnnxExporter
{
    private const int FloatType = 1, Int64Type = 7;
    private const int AttributeFloat = 1, AttributeInt = 2, AttributeInts = 7;

    /// <summary>The ONNX bytes of <paramref name="model"/>; a float input is first multiplied by <paramref name="inputScale"/> (the pixel scale).</summary>
    public static byte[] Export(ExportedModel model, float inputScale = 1f)
    {
        var graph = model.Graph;
        if (graph.IsQuantized) throw new NotSupportedException("Only FP32 networks export to ONNX; export the model before quantization.");
        var body = new ProtoWriter();
        var initializers = new List<ProtoWriter>();
        string Constant(string name, int[] shape, float[] values)
        {
            initializers.Add(Tensor(name, shape, values));
            return name;
        }
        string Weight(string name) => Constant(name, model[name].Shape, model[name].Decode());

        bool tokens = graph.Nodes[0].Kind == NodeKind.Embedding;
        var names = new Dictionary<string, string>(StringComparer.Ordinal) { [NetworkGraph.InputName] = "input" };
        if (!tokens && inputScale != 1f)
        {
            body.Message(1, Node("Mul", "input.scale", new[] { "input", Constant("input.const.scale", Array.Empty<int>(), new[] { inputScale }) }, "input.scaled"));
            names[NetworkGraph.InputName] = "input.scaled";
        }
        foreach (var node in graph.Nodes)
        {
            string x = names[node.Inputs[0]], y = node.Name == graph.Output ? "logits" : node.Name;
            names[node.Name] = y;
            switch (node.Kind)
            {
                case NodeKind.Conv2d:
                    body.Message(1, Node("Conv", node.Name, Inputs(x, Weight(StateNames.Weight(node)), node.Bias ? Weight(StateNames.Bias(node)) : null), y,
                        Ints("kernel_shape", node.Kernel, node.Kernel), Ints("strides", node.Stride, node.Stride), Ints("pads", node.Padding, node.Padding, node.Padding, node.Padding)));
                    break;
                case NodeKind.Linear:
                    body.Message(1, Node("Gemm", node.Name, Inputs(x, Weight(StateNames.Weight(node)), node.Bias ? Weight(StateNames.Bias(node)) : null), y, Int("transB", 1)));
                    break;
                case NodeKind.BatchNorm:
                    body.Message(1, Node("BatchNormalization", node.Name,
                        new[] { x, Weight(StateNames.Own(node, "weight")), Weight(StateNames.Own(node, "bias")), Weight(StateNames.Own(node, "running_mean")), Weight(StateNames.Own(node, "running_var")) },
                        y, Float("epsilon", (float)GraphNode.BatchNormEpsilon)));
                    break;
                case NodeKind.ReLU:
                    body.Message(1, Node("Relu", node.Name, new[] { x }, y));
                    break;
                case NodeKind.PReLU:
                    body.Message(1, Node("PRelu", node.Name, new[] { x, Weight(StateNames.Weight(node)) }, y));
                    break;
                case NodeKind.BCPReLU:
                {
                    // min(max(x,0), α_u) + max(min(k·x,0), −α_l), as the training layer computes it.
                    string Scalar(string tensor, float sign) => Constant($"{node.Name}.const.{tensor}", Array.Empty<int>(), new[] { sign * model[StateNames.Own(node, tensor)].Decode()[0] });
                    string zero = Constant($"{node.Name}.const.zero", Array.Empty<int>(), new[] { 0f });
                    body.Message(1, Node("Relu", node.Name + ".relu", new[] { x }, y + ".relu"));
                    body.Message(1, Node("Min", node.Name + ".upper", new[] { y + ".relu", Scalar("upper_clip", 1) }, y + ".upper"));
                    body.Message(1, Node("Mul", node.Name + ".slope", new[] { x, Scalar("slope", 1) }, y + ".slope"));
                    body.Message(1, Node("Min", node.Name + ".negative", new[] { y + ".slope", zero }, y + ".negative"));
                    body.Message(1, Node("Max", node.Name + ".lower", new[] { y + ".negative", Scalar("lower_clip", -1) }, y + ".lower"));
                    body.Message(1, Node("Add", node.Name, new[] { y + ".upper", y + ".lower" }, y));
                    break;
                }
                case NodeKind.MaxPool or NodeKind.AvgPool:
                    body.Message(1, Node(node.Kind == NodeKind.MaxPool ? "MaxPool" : "AveragePool", node.Name, new[] { x }, y,
                        Ints("kernel_shape", node.Kernel, node.Kernel), Ints("strides", node.Stride, node.Stride), Ints("pads", node.Padding, node.Padding, node.Padding, node.Padding),
                        node.Kind == NodeKind.AvgPool ? Int("count_include_pad", 1) : null));
                    break;
                case NodeKind.GlobalAvgPool:
                    body.Message(1, Node("GlobalAveragePool", node.Name + ".pool", new[] { x }, y + ".pool"));
                    body.Message(1, Node("Flatten", node.Name, new[] { y + ".pool" }, y, Int("axis", 1)));
                    break;
                case NodeKind.Flatten:
                    body.Message(1, Node("Flatten", node.Name, new[] { x }, y, Int("axis", 1)));
                    break;
                case NodeKind.Add:
                    body.Message(1, Node("Add", node.Name, new[] { x, names[node.Inputs[1]] }, y));
                    break;
                case NodeKind.Dropout:
                    body.Message(1, Node("Identity", node.Name, new[] { x }, y));
                    break;
                case NodeKind.Embedding:
                    body.Message(1, Node("Gather", node.Name, new[] { Weight(StateNames.Weight(node)), x }, y, Int("axis", 0)));
                    break;
                case NodeKind.Lstm:
                    AddLstm(body, node, model, x, y, Constant);
                    break;
                default:
                    throw new NotSupportedException($"Node '{node.Name}' ({node.Kind}) has no ONNX form.");
            }
        }
        foreach (var initializer in initializers) body.Message(5, initializer);
        body.String(2, "mlquant");
        body.Message(11, ValueInfo("input", tokens ? Int64Type : FloatType, graph.InputShape));
        body.Message(12, ValueInfo("logits", FloatType, new[] { graph.OutputSize }));
        return new ProtoWriter()
            .Int(1, 8)
            .String(2, "MLQuant")
            .Message(7, body)
            .Message(8, new ProtoWriter().String(1, "").Int(2, 17))
            .ToArray();
    }

    /// <summary>
    /// ONNX's LSTM over [T,N,D] with gates i, o, f, c; the training layer runs over [N,T,D] with PyTorch's
    /// i, f, g, o. Transpose in, reorder the gate blocks, keep the last hidden state [N,H].
    /// </summary>
    private static void AddLstm(ProtoWriter body, GraphNode node, ExportedModel model, string x, string y, Func<string, int[], float[], string> constant)
    {
        int hidden = node.Units;
        float[] Reordered(float[] values, int columns)
        {
            var result = new float[values.Length];
            int[] order = { 0, 3, 1, 2 }; // ONNX block b takes PyTorch block order[b]
            for (int b = 0; b < 4; b++) Array.Copy(values, order[b] * hidden * columns, result, b * hidden * columns, hidden * columns);
            return result;
        }
        var wih = model[StateNames.Own(node, "weight_ih")];
        var whh = model[StateNames.Own(node, "weight_hh")];
        int inputs = wih.Shape[1];
        string w = constant(node.Name + ".W", new[] { 1, 4 * hidden, inputs }, Reordered(wih.Decode(), inputs));
        string r = constant(node.Name + ".R", new[] { 1, 4 * hidden, hidden }, Reordered(whh.Decode(), hidden));
        string b = constant(node.Name + ".B", new[] { 1, 8 * hidden }, Reordered(model[StateNames.Own(node, "bias")].Decode(), 1).Concat(new float[4 * hidden]).ToArray());
        body.Message(1, Node("Transpose", node.Name + ".time_major", new[] { x }, y + ".time_major", Ints("perm", 1, 0, 2)));
        body.Message(1, Node("LSTM", node.Name, new[] { y + ".time_major", w, r, b }, new[] { "", y + ".last" }, Int("hidden_size", hidden)));
        // Y_h is [1, N, H]; flattening from axis 2 gives [N, H].
        body.Message(1, Node("Flatten", node.Name + ".squeeze", new[] { y + ".last" }, y, Int("axis", 2)));
    }

    private static string?[] Inputs(params string?[] names) => names;

    private static ProtoWriter Node(string op, string name, IEnumerable<string?> inputs, string output, params ProtoWriter?[] attributes) =>
        Node(op, name, inputs, new[] { output }, attributes);

    private static ProtoWriter Node(string op, string name, IEnumerable<string?> inputs, string[] outputs, params ProtoWriter?[] attributes)
    {
        var node = new ProtoWriter();
        foreach (string? input in inputs) if (input is not null) node.String(1, input);
        foreach (string output in outputs) node.String(2, output);
        node.String(3, name).String(4, op);
        foreach (var attribute in attributes) if (attribute is not null) node.Message(5, attribute);
        return node;
    }

    private static ProtoWriter Int(string name, long value) => new ProtoWriter().String(1, name).Int(3, value).Int(20, AttributeInt);

    private static ProtoWriter Float(string name, float value) => new ProtoWriter().String(1, name).Float(2, value).Int(20, AttributeFloat);

    private static ProtoWriter Ints(string name, params long[] values) => new ProtoWriter().String(1, name).Ints(8, values).Int(20, AttributeInts);

    private static ProtoWriter Tensor(string name, int[] shape, float[] values)
    {
        var raw = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        return new ProtoWriter().Ints(1, shape.Select(d => (long)d)).Int(2, FloatType).String(8, name).Bytes(9, raw);
    }

    private static ProtoWriter ValueInfo(string name, int elementType, IEnumerable<int> perExample)
    {
        var shape = new ProtoWriter().Message(1, new ProtoWriter().String(2, "N"));
        foreach (int d in perExample) shape.Message(1, new ProtoWriter().Int(1, d));
        var tensor = new ProtoWriter().Int(1, elementType).Message(2, shape);
        return new ProtoWriter().String(1, name).Message(2, new ProtoWriter().Message(1, tensor));
    }
}
