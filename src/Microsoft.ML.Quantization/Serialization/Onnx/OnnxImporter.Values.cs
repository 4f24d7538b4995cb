using Microsoft.ML.Quantization.Graph;

namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>Reading a node's inputs as network values or constants, and folding constant arithmetic into the layer before.</summary>
internal sealed partial class OnnxImporter
{
    /// <summary>
    /// x + c, x − c, x·c and x / c with a constant c fold into what computes x: the input's scale (x·c, x / c on the
    /// input by a scalar), the weights and bias of the Conv or Linear that x comes straight from, or else a Normalize node
    /// (c per channel or scalar). Two network values add as a residual sum.
    /// </summary>
    private void AddArithmetic(OnnxNode node, List<OnnxValue?> inputs)
    {
        node.Allow();
        if (inputs.Count != 2 || inputs[0] is null || inputs[1] is null) throw node.Invalid("needs two inputs.");
        if (inputs[0] is OnnxSymbol a && inputs[1] is OnnxSymbol b)
        {
            if (node.Op != "Add") throw node.Unsupported("combines two network values; MLQuant imports only their sum.");
            if (a.BatchAxis != 0 || b.BatchAxis != 0 || !a.Shape.SequenceEqual(b.Shape) || !shapes[a.Node].SequenceEqual(shapes[b.Node]))
                throw node.Unsupported($"adds {a.Describe()} to {b.Describe()}; MLQuant adds values of one shape.");
            string sum = Append(new GraphNode { Name = Unique(node.Name), Kind = NodeKind.Add, Inputs = new[] { a.Node, b.Node } }, node);
            Set(node, 0, a with { Node = sum, Direct = true });
            return;
        }
        bool constantFirst = inputs[0] is OnnxConstant;
        var x = (OnnxSymbol)inputs[constantFirst ? 1 : 0]!;
        var c = (OnnxConstant)inputs[constantFirst ? 0 : 1]!;
        if (constantFirst && node.Op is "Sub" or "Div") throw node.Unsupported($"computes constant {(node.Op == "Sub" ? "−" : "/")} network value.");
        if (x.Integer) throw node.Unsupported("computes with token ids.");
        string operand = node.Inputs[constantFirst ? 1 : 0];
        if (x.Node == NetworkGraph.InputName && node.Op is "Mul" or "Div" && c.Values.Length == 1 && uses[operand] == 1)
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
        if (!x.Direct || layer?.Kind is not (NodeKind.Conv2d or NodeKind.Linear) || uses[operand] != 1 || perChannel is null)
        {
            if (!FoldIntoNormalization(node, x, c, operand))
                throw node.Unsupported("applies a constant that varies along more than the channels (MLQuant folds scalar and per-channel constants).");
            return;
        }
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

    /// <summary>
    /// A scalar or per-channel constant that no layer before absorbs makes a Normalize node (x − mean) / std, or changes the
    /// one it comes straight from: x − c and x + c move the mean, x · c and x / c the deviation. This is how the input
    /// normalisation a model was trained with arrives (torchvision's Normalize), and any other fixed per-channel affine.
    /// </summary>
    private bool FoldIntoNormalization(OnnxNode node, OnnxSymbol x, OnnxConstant c, string operand)
    {
        int index = nodes.FindIndex(n => n.Name == x.Node);
        bool extend = index >= 0 && nodes[index].Kind == NodeKind.Normalize && x.Direct && uses[operand] == 1;
        if (x.Shape.Length is not (1 or 3)) return false;
        if (x.BatchAxis != 0 || !shapes[x.Node].SequenceEqual(x.Shape) || PerChannel(c, x, x.Shape[0]) is not { } values) return false;
        var normalization = extend ? nodes[index] : AddNormalization(x.Node, node.Name, Enumerable.Repeat(0f, x.Shape[0]).ToArray(), Enumerable.Repeat(1f, x.Shape[0]).ToArray(), node);
        var mean = tensors[StateNames.Own(normalization, "mean")].Decode();
        var std = tensors[StateNames.Own(normalization, "std")].Decode();
        for (int i = 0; i < mean.Length; i++)
        {
            switch (node.Op)
            {
                case "Add": mean[i] -= values[i] * std[i]; break;
                case "Sub": mean[i] += values[i] * std[i]; break;
                case "Mul": std[i] /= values[i]; break;
                default: std[i] *= values[i]; break;
            }
        }
        if (std.Any(s => s == 0 || !float.IsFinite(s)) || mean.Any(m => !float.IsFinite(m))) throw node.Unsupported("scales by zero or by a value that is not finite.");
        tensors[StateNames.Own(normalization, "mean")] = ExportedTensor.Float(new[] { mean.Length }, mean);
        tensors[StateNames.Own(normalization, "std")] = ExportedTensor.Float(new[] { std.Length }, std);
        Set(node, 0, x with { Node = normalization.Name, Direct = true });
        return true;
    }

    /// <summary>Appends a Normalize node reading <paramref name="input"/> with the given statistics; returns it.</summary>
    private GraphNode AddNormalization(string input, string name, float[] mean, float[] std, OnnxNode? source)
    {
        var normalization = new GraphNode { Name = Unique(name), Kind = NodeKind.Normalize, Inputs = new[] { input } };
        Append(normalization, source);
        tensors[StateNames.Own(normalization, "mean")] = ExportedTensor.Float(new[] { mean.Length }, mean);
        tensors[StateNames.Own(normalization, "std")] = ExportedTensor.Float(new[] { std.Length }, std);
        return normalization;
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
    private GraphNode Elementwise(OnnxNode node, List<OnnxValue?> inputs, NodeKind kind, int units = 0)
    {
        var x = Symbol(node, inputs, 0);
        if (x.Integer) throw node.Unsupported("applies to token ids.");
        var graphNode = new GraphNode { Name = Unique(node.Name), Kind = kind, Inputs = new[] { x.Node }, Units = units };
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
            throw node.Unsupported($"reads {x.Describe()}; MLQuant expects images [N,C,H,W].");
        return x;
    }

    /// <summary>The graph node holding <paramref name="x"/> as a vector, adding a Flatten when its node is not one.</summary>
    private string Vector(OnnxNode node, OnnxSymbol x)
    {
        if (x.BatchAxis != 0 || x.Shape.Length != 1 || x.Integer)
            throw node.Unsupported($"reads {x.Describe()}; MLQuant multiplies vectors [N,K] (insert a Flatten).");
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
