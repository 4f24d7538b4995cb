using Microsoft.ML.Quantization.Graph;

namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>Reading a node's inputs as network values or constants, and folding constant arithmetic into the layer before.</summary>
internal sealed partial class OnnxImporter
{
    /// <summary>
    /// x + c, x − c, x·c and x / c with a constant c fold into what computes x: the input's scale (x·c, x / c on the
    /// input), or the weights and bias of the Conv or Linear that x comes straight from (c per channel or scalar).
    /// Two network values add as a residual sum.
    /// </summary>
    private void AddArithmetic(OnnxNode node, List<OnnxValue?> inputs)
    {
        node.Allow();
        if (inputs.Count != 2 || inputs[0] is null || inputs[1] is null) throw node.Invalid("needs two inputs.");
        if (inputs[0] is OnnxSymbol a && inputs[1] is OnnxSymbol b)
        {
            if (node.Op != "Add") throw node.Unsupported("combines two network values; MLQuant imports only their sum.");
            if (a.BatchAxis != 0 || b.BatchAxis != 0 || !a.Shape.SequenceEqual(b.Shape) || !shapes[a.Node].SequenceEqual(shapes[b.Node]))
                throw node.Unsupported($"adds [{string.Join(",", a.FullDims())}] to [{string.Join(",", b.FullDims())}]; MLQuant adds values of one shape.");
            string sum = Append(new GraphNode { Name = Unique(node.Name), Kind = NodeKind.Add, Inputs = new[] { a.Node, b.Node } }, node);
            Set(node, 0, a with { Node = sum, Direct = true });
            return;
        }
        bool constantFirst = inputs[0] is OnnxConstant;
        var x = (OnnxSymbol)inputs[constantFirst ? 1 : 0]!;
        var c = (OnnxConstant)inputs[constantFirst ? 0 : 1]!;
        if (constantFirst && node.Op is "Sub" or "Div") throw node.Unsupported($"computes constant {(node.Op == "Sub" ? "−" : "/")} network value.");
        if (x.Integer) throw node.Unsupported("computes with token ids.");
        if (x.Node == NetworkGraph.InputName && node.Op is "Mul" or "Div" && c.Values.Length == 1 && uses[node.Inputs[constantFirst ? 1 : 0]] == 1)
        {
            float factor = node.Op == "Mul" ? (float)c.Single : 1f / (float)c.Single;
            if (!(factor > 0) || float.IsInfinity(factor)) throw node.Unsupported($"scales the input by {factor}; MLQuant's input scale is positive and finite.");
            inputScale *= factor;
            Set(node, 0, x);
            return;
        }
        int index = nodes.FindIndex(n => n.Name == x.Node);
        var layer = index >= 0 ? nodes[index] : null;
        var perChannel = layer is null ? null : PerChannel(c, x, layer.Units);
        if (!x.Direct || layer?.Kind is not (NodeKind.Conv2d or NodeKind.Linear) || uses[node.Inputs[constantFirst ? 1 : 0]] != 1 || perChannel is null)
            throw node.Unsupported("applies a constant that does not fold into a convolution or linear layer just before it (MLQuant folds per-channel or scalar constants there, and scales of the input).");
        var bias = layer.Bias ? tensors[StateNames.Bias(layer)].Decode() : new float[layer.Units];
        if (node.Op is "Add" or "Sub")
        {
            for (int o = 0; o < bias.Length; o++) bias[o] += node.Op == "Add" ? perChannel[o] : -perChannel[o];
        }
        else
        {
            var weight = tensors[StateNames.Weight(layer)];
            var scaled = weight.Decode();
            int per = scaled.Length / layer.Units;
            for (int o = 0; o < layer.Units; o++)
            {
                float factor = node.Op == "Mul" ? perChannel[o] : 1f / perChannel[o];
                for (int k = 0; k < per; k++) scaled[o * per + k] *= factor;
                bias[o] *= factor;
            }
            tensors[StateNames.Weight(layer)] = ExportedTensor.Float(weight.Shape, scaled);
        }
        nodes[index] = layer with { Bias = true };
        tensors[StateNames.Bias(nodes[index])] = ExportedTensor.Float(new[] { layer.Units }, bias);
        Set(node, 0, x);
    }

    /// <summary>The constant as one value per output channel, if it broadcasts along the channel axis only (or is a scalar).</summary>
    private static float[]? PerChannel(OnnxConstant c, OnnxSymbol x, int channels)
    {
        int rank = x.Shape.Length + 1;
        if (c.Dims.Length > rank || c.Dims.Contains(OnnxConstant.BatchDim)) return null;
        var aligned = Enumerable.Repeat(1L, rank - c.Dims.Length).Concat(c.Dims).ToArray();
        for (int axis = 0; axis < rank; axis++)
            if (aligned[axis] != 1 && !(axis == 1 && aligned[axis] == channels)) return null;
        return c.Values.Length switch
        {
            1 => Enumerable.Repeat((float)c.Values[0], channels).ToArray(),
            _ when c.Values.Length == channels => c.Floats(),
            _ => null,
        };
    }

    /// <summary>An element-wise node of <paramref name="kind"/> on input 0; returns it so the caller can add its tensors.</summary>
    private GraphNode Elementwise(OnnxNode node, List<OnnxValue?> inputs, NodeKind kind)
    {
        var x = Symbol(node, inputs, 0);
        if (x.Integer) throw node.Unsupported("applies to token ids.");
        var graphNode = new GraphNode { Name = Unique(node.Name), Kind = kind, Inputs = new[] { x.Node } };
        Append(graphNode, node);
        Set(node, 0, x with { Node = graphNode.Name, Direct = false });
        return graphNode;
    }

    /// <summary>Input <paramref name="index"/> as a network value.</summary>
    private static OnnxSymbol Symbol(OnnxNode node, List<OnnxValue?> inputs, int index) =>
        index < inputs.Count && inputs[index] is OnnxSymbol s ? s
            : throw node.Unsupported($"input {index} {(index < inputs.Count && inputs[index] is not null ? "is a constant where a network value is expected" : "is missing")}.");

    /// <summary>Input <paramref name="index"/> as a constant (an initializer, or computed from constants).</summary>
    private static OnnxConstant Constant(OnnxNode node, List<OnnxValue?> inputs, int index, string what) =>
        index < inputs.Count && inputs[index] is OnnxConstant c ? c
            : throw node.Unsupported($"{what} (input {index}) {(index < inputs.Count && inputs[index] is not null ? "is computed by the network; MLQuant needs it constant" : "is missing")}.");

    /// <summary>Input <paramref name="index"/> as [N,C,H,W] images that are their graph node's output as it is.</summary>
    private OnnxSymbol Image(OnnxNode node, List<OnnxValue?> inputs, int index)
    {
        var x = Symbol(node, inputs, index);
        if (x.BatchAxis != 0 || x.Shape.Length != 3 || !shapes[x.Node].SequenceEqual(x.Shape) || x.Integer)
            throw node.Unsupported($"reads [{string.Join(",", x.FullDims().Select(d => d == OnnxConstant.BatchDim ? "N" : d.ToString()))}]; MLQuant expects images [N,C,H,W].");
        return x;
    }

    /// <summary>The graph node holding <paramref name="x"/> as a vector, adding a Flatten when its node is not one.</summary>
    private string Vector(OnnxNode node, OnnxSymbol x)
    {
        if (x.BatchAxis != 0 || x.Shape.Length != 1 || x.Integer)
            throw node.Unsupported($"reads [{string.Join(",", x.FullDims().Select(d => d == OnnxConstant.BatchDim ? "N" : d.ToString()))}]; MLQuant multiplies vectors [N,K] (insert a Flatten).");
        return shapes[x.Node].Length == 1 ? x.Node
            : Append(new GraphNode { Name = Unique(x.Node + "_flatten"), Kind = NodeKind.Flatten, Inputs = new[] { x.Node } }, node);
    }

    private void Set(OnnxNode node, int output, OnnxValue value)
    {
        if (output >= node.Outputs.Count || node.Outputs[output].Length == 0) throw node.Invalid($"has no output {output}.");
        values[node.Outputs[output]] = value;
    }

    /// <summary>Refuses a node whose output <paramref name="index"/> is read: MLQuant does not compute it.</summary>
    private void Unused(OnnxNode node, int index)
    {
        if (index < node.Outputs.Count && node.Outputs[index].Length > 0 && uses.GetValueOrDefault(node.Outputs[index]) > 0)
            throw node.Unsupported($"output {index} ('{node.Outputs[index]}') is used; MLQuant does not compute it.");
    }

    /// <summary>Refuses a node whose outputs from <paramref name="first"/> on are read.</summary>
    private void UnusedFrom(OnnxNode node, int first)
    {
        for (int i = first; i < node.Outputs.Count; i++) Unused(node, i);
    }
}
