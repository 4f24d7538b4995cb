using Microsoft.ML.Quantization.Graph;

namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>The ONNX operators that become graph nodes, and the layout operators that only change how a network value is viewed.</summary>
internal sealed partial class OnnxImporter
{
    private void AddLayer(OnnxNode node, List<OnnxValue?> inputs)
    {
        switch (node.Op)
        {
            case "Conv":
                AddConv(node, inputs);
                break;
            case "BatchNormalization":
                AddBatchNorm(node, inputs);
                break;
            case "Gemm":
                AddGemm(node, inputs);
                break;
            case "MatMul":
            {
                node.Allow();
                var weight = Constant(node, inputs, 1, "the weight matrix");
                if (weight.Dims.Length != 2) throw node.Unsupported($"multiplies by a constant of shape [{string.Join(",", weight.Dims)}]; MLQuant imports a matrix [K,M].");
                AddLinear(node, Symbol(node, inputs, 0), weight.Transposed(), (int)weight.Dims[1], null);
                break;
            }
            case "Relu" or "Sigmoid" or "Tanh":
                node.Allow();
                Elementwise(node, inputs, node.Op == "Relu" ? NodeKind.ReLU : Enum.Parse<NodeKind>(node.Op));
                break;
            case "Concat":
            {
                node.Allow("axis");
                var parts = inputs.Select((_, i) => Symbol(node, inputs, i)).ToList();
                long axis = node.Int("axis", 0);
                if (axis < 0) axis += parts[0].Shape.Length + 1;
                if (axis != 1 || parts.Count < 2 || parts.Any(p => p.BatchAxis != 0 || p.Integer || !shapes[p.Node].SequenceEqual(p.Shape)))
                    throw node.Unsupported($"joins along axis {node.Int("axis", 0)}; MLQuant joins network values along their channels or features (axis 1).");
                string name = Append(new GraphNode { Name = Unique(node.Name), Kind = NodeKind.Concat, Inputs = parts.Select(p => p.Node).ToArray() }, node);
                Set(node, 0, new OnnxSymbol(name, shapes[name], 0, false, Direct: true));
                break;
            }
            case "PRelu" or "LeakyRelu":
                AddPReLU(node, inputs);
                break;
            case "Clip":
                AddClip(node, inputs);
                break;
            case "MaxPool" or "AveragePool":
                AddPool(node, inputs);
                break;
            case "GlobalAveragePool":
            {
                node.Allow();
                var x = Image(node, inputs, 0);
                string name = Append(new GraphNode { Name = Unique(node.Name), Kind = NodeKind.GlobalAvgPool, Inputs = new[] { x.Node } }, node);
                Set(node, 0, new OnnxSymbol(name, new[] { x.Shape[0], 1, 1 }, 0, false, Direct: true));
                break;
            }
            case "Add" or "Sub" or "Mul" or "Div":
                AddArithmetic(node, inputs);
                break;
            case "Gather":
                AddGather(node, inputs);
                break;
            case "LSTM":
                AddLstm(node, inputs);
                break;
            case "Flatten" or "Reshape" or "Squeeze" or "Unsqueeze" or "Transpose":
                Set(node, 0, OnnxLayout.View(node, Symbol(node, inputs, 0), inputs));
                break;
            case "Pad":
            {
                // PyTorch writes a Pad of zeros before an unpadded average pooling.
                node.Allow("mode");
                var pads = Constant(node, inputs, 1, "the pads");
                if ((node.String("mode") ?? "constant") != "constant" || pads.Values.Any(p => p != 0)) throw node.Unsupported("pads a network value; MLQuant pads inside its convolutions and pools.");
                Set(node, 0, Symbol(node, inputs, 0));
                break;
            }
            case "Identity" or "Dropout":
            {
                node.Allow("seed", "ratio");
                if (node.Op == "Dropout" && inputs.Count > 2 && inputs[2] is not null && (inputs[2] is not OnnxConstant { } training || training.Single != 0))
                    throw node.Unsupported("runs in training mode.");
                UnusedFrom(node, 1);
                Set(node, 0, Symbol(node, inputs, 0));
                break;
            }
            case "Cast":
            {
                node.Allow("to", "saturate");
                var x = Symbol(node, inputs, 0);
                bool integer = (Proto.TensorProto.Types.DataType)node.Int("to", 0) is Proto.TensorProto.Types.DataType.Int64 or Proto.TensorProto.Types.DataType.Int32;
                bool floating = (Proto.TensorProto.Types.DataType)node.Int("to", 0) is Proto.TensorProto.Types.DataType.Float;
                if (!(x.Integer ? integer : floating)) throw node.Unsupported("changes a network value between integers and floats.");
                Set(node, 0, x);
                break;
            }
            case "Softmax" or "LogSoftmax":
                node.Allow("axis");
                if (node.Outputs[0] != outputName)
                    throw node.Unsupported("is inside the network; MLQuant drops a Softmax only where it gives the output (its scores apply their own softmax).");
                Set(node, 0, Symbol(node, inputs, 0));
                break;
            default:
                throw node.Unsupported("has no MLQuant equivalent. "
                    + "Supported: Conv (grouped and depthwise too), BatchNormalization, Relu, PRelu, LeakyRelu, Clip (ReLU, ReLU6), Sigmoid, Tanh, Concat (channels), MaxPool, AveragePool, GlobalAveragePool, Gemm, MatMul, Add, Sub, Mul, Div "
                    + "(by constants that fold into the layer before or into the input normalisation, or residual sums), Flatten, Reshape, Squeeze, Unsqueeze, Transpose (layout only), Gather (embedding), LSTM (forward), "
                    + "Dropout, Identity, Cast, Pad of zeros, a trailing Softmax, and constant subgraphs.");
        }
    }

    private void AddConv(OnnxNode node, List<OnnxValue?> inputs)
    {
        node.Allow("kernel_shape", "strides", "pads", "dilations", "group", "auto_pad");
        var x = Image(node, inputs, 0);
        var weight = Constant(node, inputs, 1, "the weight");
        if (weight.Dims.Length != 4) throw node.Unsupported($"has a weight of shape [{string.Join(",", weight.Dims)}]; MLQuant imports 2-D convolutions [M,C,k,k].");
        long groups = node.Int("group", 1);
        int outputs = (int)weight.Dims[0], kernel = (int)weight.Dims[2];
        if (weight.Dims[3] != kernel) throw node.Unsupported($"has a {weight.Dims[2]}×{weight.Dims[3]} kernel; MLQuant's convolutions are square.");
        if (groups < 1 || weight.Dims[1] * groups != x.Shape[0]) throw node.Invalid($"has a weight for {weight.Dims[1]} input channels per group in {groups} groups, receives {x.Shape[0]}.");
        if (node.Ints("kernel_shape") is { } declared && !declared.SequenceEqual(new long[] { kernel, kernel })) throw node.Invalid("kernel_shape disagrees with the weight.");
        var (stride, padding) = Window(node, kernel, dilations: true);
        var bias = inputs.Count > 2 && inputs[2] is not null ? Constant(node, inputs, 2, "the bias") : null;
        if (bias is not null && bias.Count != outputs) throw node.Invalid($"has {bias.Count} biases for {outputs} output channels.");
        var conv = new GraphNode { Name = Unique(node.Name), Kind = NodeKind.Conv2d, Inputs = new[] { x.Node }, Units = outputs, InputUnits = x.Shape[0], Kernel = kernel, Stride = stride, Padding = padding, Bias = bias is not null, Groups = (int)groups };
        string name = Append(conv, node);
        tensors[StateNames.Weight(conv)] = ExportedTensor.Float(weight.Dims.Select(d => (int)d).ToArray(), weight.Floats());
        if (bias is not null) tensors[StateNames.Bias(conv)] = ExportedTensor.Float(new[] { outputs }, bias.Floats());
        Set(node, 0, new OnnxSymbol(name, shapes[name], 0, false, Direct: true));
    }

    private void AddBatchNorm(OnnxNode node, List<OnnxValue?> inputs)
    {
        node.Allow("epsilon", "momentum", "training_mode", "spatial");
        if (node.Int("training_mode", 0) != 0) throw node.Unsupported("runs in training mode.");
        if (node.Int("spatial", 1) != 1) throw node.Unsupported("normalises per element (spatial = 0).");
        UnusedFrom(node, 1);
        var x = Symbol(node, inputs, 0);
        int channels = x.Shape.Length > 0 ? x.Shape[0] : 0;
        var parts = new[] { "weight", "bias", "running_mean", "running_var" }.Select((t, i) => Constant(node, inputs, i + 1, t)).ToArray();
        if (parts.Any(p => p.Count != channels) || shapes[x.Node][0] != channels) throw node.Invalid($"has statistics that do not match its {channels} channels.");
        // MLQuant's BatchNorm adds ε = 1e-5 to the variance; any other ε moves into the stored variance, which gives the same output.
        double shift = node.Float("epsilon", 1e-5f) - GraphNode.BatchNormEpsilon;
        var variance = parts[3].Values.Select(v => (float)(v + shift)).ToArray();
        if (variance.Any(v => !(v + (float)GraphNode.BatchNormEpsilon > 0))) throw node.Invalid("has a variance plus ε that is not positive.");
        var batchNorm = new GraphNode { Name = Unique(node.Name), Kind = NodeKind.BatchNorm, Inputs = new[] { x.Node } };
        string name = Append(batchNorm, node);
        for (int i = 0; i < 3; i++) tensors[StateNames.Own(batchNorm, new[] { "weight", "bias", "running_mean" }[i])] = ExportedTensor.Float(new[] { channels }, parts[i].Floats());
        tensors[StateNames.Own(batchNorm, "running_var")] = ExportedTensor.Float(new[] { channels }, variance);
        Set(node, 0, x with { Node = name, Direct = true });
    }

    private void AddGemm(OnnxNode node, List<OnnxValue?> inputs)
    {
        node.Allow("alpha", "beta", "transA", "transB");
        if (node.Int("transA", 0) != 0) throw node.Unsupported("transposes its input (transA = 1).");
        var weight = Constant(node, inputs, 1, "the weight matrix");
        if (weight.Dims.Length != 2) throw node.Invalid($"has a weight of shape [{string.Join(",", weight.Dims)}].");
        bool transB = node.Int("transB", 0) != 0;
        var rows = transB ? weight : weight.Transposed();
        int outputs = (int)rows.Dims[0];
        float alpha = node.Float("alpha", 1f), beta = node.Float("beta", 1f);
        var scaled = alpha == 1f ? rows : rows with { Values = rows.Values.Select(v => (double)(float)v * alpha).ToArray() };
        float[]? bias = null;
        if (inputs.Count > 2 && inputs[2] is not null)
        {
            var c = Constant(node, inputs, 2, "the bias");
            if (c.Count is not 1 && c.Count != outputs || c.Dims.Length > 2 || c.Dims.Length == 2 && c.Dims[0] != 1)
                throw node.Unsupported($"adds a bias of shape [{string.Join(",", c.Dims)}]; MLQuant imports one bias per output.");
            bias = Enumerable.Range(0, outputs).Select(o => (float)c.Values[c.Count == 1 ? 0 : o] * beta).ToArray();
        }
        AddLinear(node, Symbol(node, inputs, 0), scaled, outputs, bias);
    }

    private void AddLinear(OnnxNode node, OnnxSymbol x, OnnxConstant rows, int outputs, float[]? bias)
    {
        string input = Vector(node, x);
        if (rows.Dims[1] != shapes[input][0]) throw node.Invalid($"has a weight for {rows.Dims[1]} inputs, receives {shapes[input][0]}.");
        var linear = new GraphNode { Name = Unique(node.Name), Kind = NodeKind.Linear, Inputs = new[] { input }, Units = outputs, InputUnits = shapes[input][0], Bias = bias is not null };
        string name = Append(linear, node);
        tensors[StateNames.Weight(linear)] = ExportedTensor.Float(new[] { outputs, (int)rows.Dims[1] }, rows.Floats());
        if (bias is not null) tensors[StateNames.Bias(linear)] = ExportedTensor.Float(new[] { outputs }, bias);
        Set(node, 0, new OnnxSymbol(name, new[] { outputs }, 0, false, Direct: true));
    }

    private void AddPReLU(OnnxNode node, List<OnnxValue?> inputs)
    {
        float slope;
        if (node.Op == "LeakyRelu")
        {
            node.Allow("alpha");
            slope = node.Float("alpha", 0.01f);
        }
        else
        {
            node.Allow();
            var slopes = Constant(node, inputs, 1, "the slope");
            if (slopes.Values.Length > 1 || slopes.Values.Length == 0)
            {
                var x = Symbol(node, inputs, 0);
                var perChannel = x.Shape.Length is 1 or 3 ? PerChannel(slopes, x, x.Shape[0]) : null;
                if (perChannel is null) throw node.Unsupported($"has slopes of shape [{string.Join(",", slopes.Dims)}]; MLQuant's PReLU has one slope, or one per channel.");
                var channelwise = Elementwise(node, inputs, NodeKind.PReLU, units: perChannel.Length);
                tensors[StateNames.Weight(channelwise)] = ExportedTensor.Float(new[] { perChannel.Length }, perChannel);
                return;
            }
            slope = (float)slopes.Values[0];
        }
        // LeakyRelu's fixed α becomes a PReLU's initial slope: the same function, which fine-tuning may then adjust.
        var prelu = Elementwise(node, inputs, NodeKind.PReLU);
        tensors[StateNames.Weight(prelu)] = ExportedTensor.Float(new[] { 1 }, new[] { slope });
    }

    private void AddClip(OnnxNode node, List<OnnxValue?> inputs)
    {
        node.Allow();
        double low = inputs.Count > 1 && inputs[1] is not null ? Constant(node, inputs, 1, "the minimum").Single : double.NegativeInfinity;
        double high = inputs.Count > 2 && inputs[2] is not null ? Constant(node, inputs, 2, "the maximum").Single : double.PositiveInfinity;
        if (low != 0) throw node.Unsupported($"clips to [{low}, {high}]; MLQuant imports Clip from 0 (ReLU and ReLU6-style clips).");
        if (double.IsPositiveInfinity(high))
        {
            Elementwise(node, inputs, NodeKind.ReLU);
            return;
        }
        if (!(high > 0) || high > float.MaxValue) throw node.Unsupported($"clips to [0, {high}].");
        // min(max(x,0), a) is a BCPReLU with slope 0 and upper clip a.
        var clip = Elementwise(node, inputs, NodeKind.BCPReLU);
        tensors[StateNames.Own(clip, "slope")] = ExportedTensor.Float(Array.Empty<int>(), new[] { 0f });
        tensors[StateNames.Own(clip, "lower_clip")] = ExportedTensor.Float(Array.Empty<int>(), new[] { 0f });
        tensors[StateNames.Own(clip, "upper_clip")] = ExportedTensor.Float(Array.Empty<int>(), new[] { (float)high });
    }

    private void AddPool(OnnxNode node, List<OnnxValue?> inputs)
    {
        node.Allow("kernel_shape", "strides", "pads", "dilations", "ceil_mode", "auto_pad", "count_include_pad", "storage_order");
        UnusedFrom(node, 1);
        var x = Image(node, inputs, 0);
        var kernelShape = node.Ints("kernel_shape") ?? throw node.Invalid("has no kernel_shape.");
        if (kernelShape.Length != 2 || kernelShape[0] != kernelShape[1] || kernelShape[0] is < 1 or > int.MaxValue) throw node.Unsupported($"has kernel [{string.Join(",", kernelShape)}]; MLQuant pools over square windows.");
        if (node.Int("ceil_mode", 0) != 0) throw node.Unsupported("rounds its output size up (ceil_mode = 1).");
        if (node.Int("storage_order", 0) != 0) throw node.Unsupported("has storage_order 1.");
        int kernel = (int)kernelShape[0];
        var (stride, padding) = Window(node, kernel, dilations: node.Op == "MaxPool");
        // MLQuant's average pooling divides by the whole window, as count_include_pad = 1 does; without padding the two agree.
        if (node.Op == "AveragePool" && padding > 0 && node.Int("count_include_pad", 0) == 0)
            throw node.Unsupported("leaves padding out of the average (count_include_pad = 0) on a padded window.");
        var pool = new GraphNode { Name = Unique(node.Name), Kind = node.Op == "MaxPool" ? NodeKind.MaxPool : NodeKind.AvgPool, Inputs = new[] { x.Node }, Kernel = kernel, Stride = stride, Padding = padding };
        string name = Append(pool, node);
        Set(node, 0, new OnnxSymbol(name, shapes[name], 0, false, Direct: true));
    }

    /// <summary>Stride and symmetric padding of a square window, from strides, pads, dilations and auto_pad.</summary>
    private static (int Stride, int Padding) Window(OnnxNode node, int kernel, bool dilations)
    {
        if (dilations && node.Ints("dilations") is { } d && d.Any(v => v != 1)) throw node.Unsupported("is dilated.");
        var strides = node.Ints("strides") ?? new long[] { 1, 1 };
        if (strides.Length != 2 || strides[0] != strides[1] || strides[0] is < 1 or > int.MaxValue) throw node.Unsupported($"has strides [{string.Join(",", strides)}]; MLQuant's windows move equally in both directions.");
        int stride = (int)strides[0];
        string autoPad = node.String("auto_pad") ?? "NOTSET";
        if (autoPad == "VALID") return (stride, 0);
        if (autoPad is "SAME_UPPER" or "SAME_LOWER")
        {
            if (stride != 1 || kernel % 2 == 0) throw node.Unsupported($"pads '{autoPad}' with stride {stride} and kernel {kernel}, which pads unevenly.");
            return (1, kernel / 2);
        }
        if (autoPad != "NOTSET") throw node.Invalid($"has auto_pad '{autoPad}'.");
        var pads = node.Ints("pads") ?? new long[4];
        if (pads.Length != 4 || pads.Distinct().Count() != 1 || pads[0] is < 0 or >= int.MaxValue) throw node.Unsupported($"pads [{string.Join(",", pads)}]; MLQuant pads every side equally.");
        return (stride, (int)pads[0]);
    }

    private void AddGather(OnnxNode node, List<OnnxValue?> inputs)
    {
        node.Allow("axis");
        long axis = node.Int("axis", 0);
        if (inputs.Count > 0 && inputs[0] is OnnxSymbol data)
        {
            // h[-1] of an LSTM's Y_h: picking the one entry of a size-1 axis only drops that axis.
            var index = Constant(node, inputs, 1, "the index");
            var dims = data.FullDims();
            if (axis < 0) axis += dims.Length;
            if (axis < 0 || axis >= dims.Length || dims[axis] != 1 || index.Values.Length != 1 || index.Dims.Length != 0 || index.Single is not (0 or -1))
                throw node.Unsupported("selects from a network value; MLQuant imports Gather as an embedding, or as picking the one entry of a size-1 axis.");
            var kept = dims.Where((d, i) => i != axis).ToArray();
            Set(node, 0, data.Viewed(kept.Where(d => d != OnnxConstant.BatchDim).Select(d => (int)d).ToArray(), Array.IndexOf(kept, OnnxConstant.BatchDim)));
            return;
        }
        var table = Constant(node, inputs, 0, "the embedding table");
        var ids = Symbol(node, inputs, 1);
        if (axis != 0 || table.Dims.Length != 2 || !ids.Integer || ids.Node != NetworkGraph.InputName || ids.Shape.Length != 1)
            throw node.Unsupported("is not an embedding (a [V,D] table indexed along axis 0 by the input's token ids).");
        var embedding = new GraphNode { Name = Unique(node.Name), Kind = NodeKind.Embedding, Inputs = new[] { ids.Node }, Vocabulary = (int)table.Dims[0], Units = (int)table.Dims[1] };
        string name = Append(embedding, node);
        tensors[StateNames.Weight(embedding)] = ExportedTensor.Float(new[] { (int)table.Dims[0], (int)table.Dims[1] }, table.Floats());
        Set(node, 0, new OnnxSymbol(name, shapes[name], 0, false, Direct: true));
    }

    /// <summary>
    /// A forward LSTM whose last hidden state Y_h is used: ONNX's gate blocks i, o, f, c become the training layer's
    /// i, f, g, o, and its two biases one. Y and Y_c must be unused.
    /// </summary>
    private void AddLstm(OnnxNode node, List<OnnxValue?> inputs)
    {
        node.Allow("hidden_size", "direction", "activations", "layout", "input_forget");
        if ((node.String("direction") ?? "forward") != "forward") throw node.Unsupported($"runs {node.String("direction")}; MLQuant imports forward LSTMs.");
        if (node.Int("input_forget", 0) != 0) throw node.Unsupported("couples the input and forget gates.");
        if (node.Proto.Attribute.FirstOrDefault(a => a.Name == "activations") is { } activations
            && !activations.Strings.Select(s => s.ToStringUtf8()).SequenceEqual(new[] { "Sigmoid", "Tanh", "Tanh" }))
            throw node.Unsupported("uses activations other than Sigmoid, Tanh, Tanh.");
        bool batchFirst = node.Int("layout", 0) == 1;
        var x = Symbol(node, inputs, 0);
        if (x.BatchAxis != (batchFirst ? 0 : 1) || x.Shape.Length != 2 || !shapes[x.Node].SequenceEqual(x.Shape))
            throw node.Unsupported($"reads {x.Describe()}; MLQuant imports an LSTM over an embedding's [T,N,D] sequence (or [N,T,D] with layout 1).");
        if (inputs.Count > 4 && inputs[4] is not null) throw node.Unsupported("has sequence lengths; MLQuant runs every sequence to its full length.");
        if (inputs.Count > 7 && inputs[7] is not null) throw node.Unsupported("has peepholes.");
        for (int i = 5; i <= 6 && i < inputs.Count; i++)
            if (inputs[i] is not null && (inputs[i] is not OnnxConstant state || state.Values.Any(v => v != 0))) throw node.Unsupported("starts from a state that is not zero.");
        Unused(node, 0);
        Unused(node, 2);
        var w = Constant(node, inputs, 1, "W");
        var r = Constant(node, inputs, 2, "R");
        int features = x.Shape[1], hidden = (int)node.Int("hidden_size", r.Dims.Length == 3 ? r.Dims[2] : 0);
        if (!w.Dims.SequenceEqual(new long[] { 1, 4 * hidden, features }) || !r.Dims.SequenceEqual(new long[] { 1, 4 * hidden, hidden }))
            throw node.Invalid($"has W [{string.Join(",", w.Dims)}] and R [{string.Join(",", r.Dims)}] for {features} features and hidden size {hidden}.");
        var b = inputs.Count > 3 && inputs[3] is not null ? Constant(node, inputs, 3, "B") : new OnnxConstant(new long[] { 1, 8 * hidden }, new double[8 * hidden], false);
        if (b.Count != 8 * hidden) throw node.Invalid($"has {b.Count} biases for hidden size {hidden}.");
        var lstm = new GraphNode { Name = Unique(node.Name), Kind = NodeKind.Lstm, Inputs = new[] { x.Node }, Units = hidden, InputUnits = features };
        string name = Append(lstm, node);
        tensors[StateNames.Own(lstm, "weight_ih")] = ExportedTensor.Float(new[] { 4 * hidden, features }, LstmGates.FromOnnx(w.Floats(), hidden, features));
        tensors[StateNames.Own(lstm, "weight_hh")] = ExportedTensor.Float(new[] { 4 * hidden, hidden }, LstmGates.FromOnnx(r.Floats(), hidden, hidden));
        var biases = b.Floats();
        var (input, recurrent) = (LstmGates.FromOnnx(biases.AsSpan(0, 4 * hidden), hidden, 1), LstmGates.FromOnnx(biases.AsSpan(4 * hidden), hidden, 1));
        tensors[StateNames.Own(lstm, "bias")] = ExportedTensor.Float(new[] { 4 * hidden }, input.Zip(recurrent, (p, q) => p + q).ToArray());
        // Y_h is [1,N,H], or [N,1,H] with layout 1.
        if (node.Outputs.Count > 1 && node.Outputs[1].Length > 0) values[node.Outputs[1]] = new OnnxSymbol(name, new[] { 1, hidden }, batchFirst ? 0 : 1, false, Direct: false);
    }
}
