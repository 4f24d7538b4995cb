using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Serialization.Onnx.Proto;
using static Microsoft.ML.Quantization.Serialization.Onnx.OnnxGraphWriter;

namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>
/// Writes an <see cref="ExportedModel"/> as an ONNX model (IR 8, opset 17; IR 10, opset 21 when a weight is stored in 4 bits) with a dynamic batch dimension: input
/// "input" [N, ...graph input] (float, or int64 token ids for an embedding graph), output "logits" [N, classes].
/// A quantized network exports in QDQ form, as ONNX Runtime's own quantizer writes it:
/// <list type="bullet">
/// <item>an activation quantizer becomes Clip → QuantizeLinear → DequantizeLinear (uint8), exact for uniform grids
/// (ZoomQ, ClipQ, FixedQ, BCPReLU's output); two-sided ClipQ's bin centres are shifted by half a step around the pair;</item>
/// <item>a quantized weight whose levels are one integer lattice (Binary, Ternary, Quaternary, FixedQ, ZoomQ, ClipQ,
/// PotQ) becomes an int4 (or uint4) initializer where its integers fit 4 bits, else an int8 (or uint8) one, with per-tensor or
/// per-channel DequantizeLinear, exact;</item>
/// <item>any other weight (ResQ) exports its decoded float values, exact as well;</item>
/// <item>an activation grid whose levels are not uniform (PotQ, Ternary, Quaternary, ResQ) becomes its threshold
/// staircase in float (Div → GreaterOrEqual → ReduceSum → Gather of the level values), exact as well.</item>
/// </list>
/// An LSTM whose recurrent state is quantized has no ONNX form and is refused with a <see cref="NotSupportedException"/>.
/// </summary>
internal static class OnnxExporter
{
    /// <summary>The ONNX bytes of <paramref name="model"/>; a float input is first multiplied by <paramref name="inputScale"/> (the pixel scale).</summary>
    public static byte[] Export(ExportedModel model, float inputScale = 1f)
    {
        var graph = model.Graph;
        var writer = new OnnxGraphWriter();
        bool tokens = graph.Nodes[0].Kind == NodeKind.Embedding;
        var names = new Dictionary<string, string>(StringComparer.Ordinal) { [NetworkGraph.InputName] = "input" };
        if (!tokens && inputScale != 1f)
        {
            writer.Node("Mul", "input.scale", new[] { "input", writer.Scalar("input.const.scale", inputScale) }, "input.scaled");
            names[NetworkGraph.InputName] = "input.scaled";
        }
        foreach (var node in graph.Nodes)
        {
            string x = names[node.Inputs[0]], y = node.Name == graph.Output ? "logits" : node.Name;
            names[node.Name] = y;
            try
            {
                Add(writer, model, node, x, y, names);
            }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"Node '{node.Name}' ({node.Kind}) cannot be exported: {e.Message}", e);
            }
        }
        writer.Value(true, "input", tokens ? TensorProto.Types.DataType.Int64 : TensorProto.Types.DataType.Float, graph.InputShape);
        writer.Value(false, "logits", TensorProto.Types.DataType.Float, new[] { graph.OutputSize });
        return writer.ToModel();
    }

    private static void Add(OnnxGraphWriter writer, ExportedModel model, GraphNode node, string x, string y, Dictionary<string, string> names)
    {
        switch (node.Kind)
        {
            case NodeKind.Conv2d:
                writer.Node("Conv", node.Name, new[] { x, Weight(writer, model, StateNames.Weight(node)), node.Bias ? Weight(writer, model, StateNames.Bias(node)) : null }, y,
                    Ints("kernel_shape", node.Kernel, node.Kernel), Ints("strides", node.Stride, node.Stride), Ints("pads", node.Padding, node.Padding, node.Padding, node.Padding), node.Groups > 1 ? Int("group", node.Groups) : null);
                break;
            case NodeKind.Linear:
                writer.Node("Gemm", node.Name, new[] { x, Weight(writer, model, StateNames.Weight(node)), node.Bias ? Weight(writer, model, StateNames.Bias(node)) : null }, y, Int("transB", 1));
                break;
            case NodeKind.BatchNorm:
                writer.Node("BatchNormalization", node.Name, new[] { x }.Concat(new[] { "weight", "bias", "running_mean", "running_var" }.Select(t => Weight(writer, model, StateNames.Own(node, t)))), y,
                    Float("epsilon", (float)GraphNode.BatchNormEpsilon));
                break;
            case NodeKind.ReLU or NodeKind.Sigmoid or NodeKind.Tanh:
                writer.Node(node.Kind == NodeKind.ReLU ? "Relu" : node.Kind.ToString(), node.Name, new[] { x }, y);
                break;
            case NodeKind.Concat:
                writer.Node("Concat", node.Name, node.Inputs.Select(i => names[i]), y, Int("axis", 1));
                break;
            case NodeKind.Normalize:
            {
                string centred = writer.NodeOutput("Sub", node.Name + ".centred", new[] { x, PerChannel(writer, model, node, StateNames.Own(node, "mean")) });
                writer.Node("Div", node.Name, new[] { centred, PerChannel(writer, model, node, StateNames.Own(node, "std")) }, y);
                break;
            }
            case NodeKind.PReLU:
                writer.Node("PRelu", node.Name, new[] { x, PerChannel(writer, model, node, StateNames.Weight(node)) }, y);
                break;
            case NodeKind.BCPReLU:
                AddBCPReLU(writer, model, node, x, y);
                break;
            case NodeKind.MaxPool or NodeKind.AvgPool:
                writer.Node(node.Kind == NodeKind.MaxPool ? "MaxPool" : "AveragePool", node.Name, new[] { x }, y,
                    Ints("kernel_shape", node.Kernel, node.Kernel), Ints("strides", node.Stride, node.Stride), Ints("pads", node.Padding, node.Padding, node.Padding, node.Padding),
                    node.Kind == NodeKind.AvgPool ? Int("count_include_pad", 1) : null);
                break;
            case NodeKind.GlobalAvgPool:
                writer.Node("GlobalAveragePool", node.Name + ".pool", new[] { x }, y + ".pool");
                writer.Node("Flatten", node.Name, new[] { y + ".pool" }, y, Int("axis", 1));
                break;
            case NodeKind.Flatten:
                writer.Node("Flatten", node.Name, new[] { x }, y, Int("axis", 1));
                break;
            case NodeKind.Add:
                writer.Node("Add", node.Name, new[] { x, names[node.Inputs[1]] }, y);
                break;
            case NodeKind.Dropout:
                writer.Node("Identity", node.Name, new[] { x }, y);
                break;
            case NodeKind.Embedding:
                writer.Node("Gather", node.Name, new[] { Weight(writer, model, StateNames.Weight(node)), x }, y, Int("axis", 0));
                break;
            case NodeKind.Lstm:
                if (model.Has(StateNames.Grid(StateNames.QuantizerPrefix(node), "scales")))
                    throw new NotSupportedException($"LSTM '{node.Name}' quantizes its recurrent state inside every step, which ONNX's LSTM operator cannot express.");
                AddLstm(writer, model, node, x, y);
                break;
            case NodeKind.Quantize:
                AddActivation(writer, node.Name, x, y, model.Grid(StateNames.QuantizerPrefix(node)) ?? throw new InvalidDataException("The activation quantizer has no grid."));
                break;
            default:
                throw new NotSupportedException($"Node '{node.Name}' ({node.Kind}) has no ONNX form.");
        }
    }

    /// <summary>A per-channel tensor as ONNX broadcasts it over the node's input [N, C, ...]: [C, 1, 1] for maps, [C] for vectors.</summary>
    private static string PerChannel(OnnxGraphWriter writer, ExportedModel model, GraphNode node, string tensor)
    {
        var values = model[tensor].Decode();
        var trailing = model.Graph.Shapes[node.Inputs[0]].Skip(1).Select(_ => 1);
        return writer.Floats(tensor, trailing.Prepend(values.Length).ToArray(), values);
    }

    /// <summary>
    /// The tensor as the node reads it: a float initializer, or for quantized weights an 8-bit initializer and its
    /// DequantizeLinear (per channel along dimension 0 when the grid has a group per output channel).
    /// </summary>
    private static string Weight(OnnxGraphWriter writer, ExportedModel model, string name)
    {
        var tensor = model[name];
        int[] shape = tensor.Shape;
        if (tensor.Quantized is not { } quantized || QdqWeights.Of(quantized.Grid) is not { } form) return writer.Floats(name, shape, tensor.Decode());
        int levels = quantized.Grid.LevelCount;
        int perGroup = quantized.Codes.Length / quantized.Grid.GroupCount;
        var integers = quantized.Codes.Select((code, i) => form.Integers[i / perGroup * levels + code]).ToArray();
        bool perChannel = quantized.Grid.GroupCount > 1;
        int[] scalarShape = perChannel ? new[] { quantized.Grid.GroupCount } : Array.Empty<int>();
        writer.Node("DequantizeLinear", name + ".dequantize",
            new[]
            {
                form.FitsFourBits ? writer.Nibbles(name + ".q", shape, integers, form.Signed) : writer.Bytes(name + ".q", shape, integers, form.Signed),
                writer.Floats(name + ".step", scalarShape, form.Steps),
                form.FitsFourBits ? writer.Nibbles(name + ".zero", scalarShape, form.ZeroPoints, form.Signed) : writer.Bytes(name + ".zero", scalarShape, form.ZeroPoints, form.Signed),
            },
            name, perChannel ? Int("axis", 0) : null);
        return name;
    }

    /// <summary>A uniform grid as a QDQ pair, any other as its threshold staircase.</summary>
    private static void AddActivation(OnnxGraphWriter writer, string name, string x, string y, Schemes.QuantizationGrid grid)
    {
        if (QdqActivation.Of(grid) is { } form) AddActivationPair(writer, name, x, y, form);
        else AddStaircase(writer, name, x, y, grid);
    }

    /// <summary>
    /// A grid whose levels are not uniform (PotQ, Ternary, Quaternary, ResQ activations), exactly as the runtime rounds:
    /// the position of x / s among the thresholds (how many are ≤ it) picks the value from the table of level · s.
    /// ONNX Runtime runs it in float.
    /// </summary>
    private static void AddStaircase(OnnxGraphWriter writer, string name, string x, string y, Schemes.QuantizationGrid grid)
    {
        float scale = grid.Scales[0];
        var order = grid.CodeOrder ?? Enumerable.Range(0, grid.LevelCount).ToArray();
        string scaled = writer.NodeOutput("Div", name + ".scaled", new[] { x, writer.Scalar(name + ".scale", scale) });
        string last = writer.Longs(name + ".last_axis", new[] { 1 }, new long[] { -1 });
        string expanded = writer.NodeOutput("Unsqueeze", name + ".expanded", new[] { scaled, last });
        string reached = writer.NodeOutput("GreaterOrEqual", name + ".reached", new[] { expanded, writer.Floats(name + ".thresholds", new[] { grid.Thresholds.Length }, grid.Thresholds) });
        string counted = writer.NodeOutput("Cast", name + ".counted", new[] { reached }, Int("to", (long)TensorProto.Types.DataType.Int64));
        string position = writer.NodeOutput("ReduceSum", name + ".position", new[] { counted, last }, Int("keepdims", 0));
        var table = order.Select(code => grid.Levels[code] * scale).ToArray();
        writer.Node("Gather", name, new[] { writer.Floats(name + ".values", new[] { table.Length }, table), position }, y, Int("axis", 0));
    }

    /// <summary>Clip to the grid, then QuantizeLinear and DequantizeLinear at its step (shifted by half a step for bin centres).</summary>
    private static void AddActivationPair(OnnxGraphWriter writer, string name, string x, string y, QdqActivation form)
    {
        float shift = form.HalfStep ? form.Step / 2 : 0;
        double zero = -(form.First - (form.HalfStep ? 0.5 : 0));
        if (zero is < 0 or > 255 || form.Count > 256) throw new NotSupportedException($"The activation grid of '{name}' does not fit uint8 ({form.Count} levels from {form.First} steps).");
        string clipped = writer.NodeOutput("Clip", name + ".clip", new[] { x, writer.Scalar(name + ".low", (float)(form.First * form.Step)), writer.Scalar(name + ".high", (float)((form.First + form.Count - 1) * form.Step)) });
        if (shift != 0) clipped = writer.NodeOutput("Add", name + ".shift", new[] { clipped, writer.Scalar(name + ".minus_half", -shift) });
        string step = writer.Scalar(name + ".step", form.Step), zeroPoint = writer.Bytes(name + ".zero", Array.Empty<int>(), new[] { (int)zero }, signed: false);
        string quantized = writer.NodeOutput("QuantizeLinear", name + ".quantize", new[] { clipped, step, zeroPoint });
        if (shift == 0)
        {
            writer.Node("DequantizeLinear", name, new[] { quantized, step, zeroPoint }, y);
            return;
        }
        string dequantized = writer.NodeOutput("DequantizeLinear", name + ".dequantize", new[] { quantized, step, zeroPoint });
        writer.Node("Add", name, new[] { dequantized, writer.Scalar(name + ".plus_half", shift) }, y);
    }

    /// <summary>min(max(x,0), α_u) + max(min(k·x,0), −α_l), as the training layer computes it, then its output grid if it has one.</summary>
    private static void AddBCPReLU(OnnxGraphWriter writer, ExportedModel model, GraphNode node, string x, string y)
    {
        string Scalar(string tensor, float sign) => writer.Scalar($"{node.Name}.const.{tensor}", sign * model[StateNames.Own(node, tensor)].Decode()[0]);
        var grid = model.Grid(StateNames.OutputGridPrefix(node));
        string sum = grid is null ? y : y + ".float";
        string upper = writer.NodeOutput("Min", node.Name + ".upper", new[] { writer.NodeOutput("Relu", node.Name + ".relu", new[] { x }), Scalar("upper_clip", 1) });
        string negative = writer.NodeOutput("Min", node.Name + ".negative", new[] { writer.NodeOutput("Mul", node.Name + ".slope", new[] { x, Scalar("slope", 1) }), writer.Scalar(node.Name + ".const.zero", 0) });
        string lower = writer.NodeOutput("Max", node.Name + ".lower", new[] { negative, Scalar("lower_clip", -1) });
        writer.Node("Add", grid is null ? node.Name : node.Name + ".sum", new[] { upper, lower }, sum);
        if (grid is not null) AddActivation(writer, node.Name, sum, y, grid);
    }

    /// <summary>
    /// ONNX's LSTM over [T,N,D] with gates i, o, f, c; the training layer runs over [N,T,D] with PyTorch's
    /// i, f, g, o. Transpose in, reorder the gate blocks, keep the last hidden state [N,H].
    /// </summary>
    private static void AddLstm(OnnxGraphWriter writer, ExportedModel model, GraphNode node, string x, string y)
    {
        int hidden = node.Units;
        var wih = model[StateNames.Own(node, "weight_ih")];
        var whh = model[StateNames.Own(node, "weight_hh")];
        int inputs = wih.Shape[1];
        string w = writer.Floats(node.Name + ".W", new[] { 1, 4 * hidden, inputs }, LstmGates.ToOnnx(wih.Decode(), hidden, inputs));
        string r = writer.Floats(node.Name + ".R", new[] { 1, 4 * hidden, hidden }, LstmGates.ToOnnx(whh.Decode(), hidden, hidden));
        string b = writer.Floats(node.Name + ".B", new[] { 1, 8 * hidden }, LstmGates.ToOnnx(model[StateNames.Own(node, "bias")].Decode(), hidden, 1).Concat(new float[4 * hidden]).ToArray());
        string timeMajor = writer.NodeOutput("Transpose", node.Name + ".time_major", new[] { x }, Ints("perm", 1, 0, 2));
        writer.Node("LSTM", node.Name, new[] { timeMajor, w, r, b }, new[] { "", y + ".last" }, Int("hidden_size", hidden));
        // Y_h is [1, N, H]; flattening from axis 2 gives [N, H].
        writer.Node("Flatten", node.Name + ".squeeze", new[] { y + ".last" }, y, Int("axis", 2));
    }
}
