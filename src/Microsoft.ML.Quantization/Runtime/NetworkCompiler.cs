using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Runtime.Steps;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Serialization;

namespace Microsoft.ML.Quantization.Runtime;

/// <summary>
/// Turns the nodes of an <see cref="ExportedModel"/> into <see cref="ScoringStep"/>s over value slots, in
/// graph order. A BatchNorm that is the only consumer of a Conv2d or Linear is folded into that product's
/// epilogue; Flatten and Dropout share their input's slot. A convolution (direct, XOR/popcount, or im2col with an integer product) whose
/// output runs through a residual add, a ReLU, a max pool and a Flatten (each optional) into an activation quantizer with integer
/// codes takes them all into its epilogue (<see cref="ActivationEpilogue"/>), unless fusion is turned off; where others read the
/// quantizer's input too (a residual block's output), the epilogue writes it as floats beside the codes.
/// </summary>
internal sealed class NetworkCompiler
{
    private readonly ExportedModel model;
    private readonly NetworkGraph graph;
    private readonly List<ScoringStep> steps = new();
    private readonly List<ValueSlot> slots = new();
    private readonly Dictionary<string, ValueSlot> values = new(StringComparer.Ordinal);
    private readonly HashSet<string> folded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (GraphNode Embedding, GraphNode Quantizer, ValueSlot Ids)> tokenInputs = new(StringComparer.Ordinal); // by LSTM
    private readonly bool fuse;

    /// <param name="model">The model to compile.</param>
    /// <param name="fuse">Whether convolutions absorb the ReLU, pool and quantizer that follow them (same results; off to check that).</param>
    public NetworkCompiler(ExportedModel model, bool fuse = true)
    {
        this.model = model;
        this.fuse = fuse;
        graph = model.Graph;
    }

    public (List<ScoringStep> Steps, List<ValueSlot> Slots, ValueSlot Input, ValueSlot Output, IReadOnlyDictionary<string, ValueSlot> Nodes) Compile()
    {
        var input = NewSlot(graph.InputShape.ToArray());
        values[NetworkGraph.InputName] = input;
        foreach (var node in graph.Nodes)
        {
            if (folded.Contains(node.Name)) continue;
            try
            {
                Add(node);
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or NotSupportedException)
            {
                throw new InvalidDataException($"Node '{node.Name}' ({node.Kind}) cannot be compiled for scoring: {e.Message}", e);
            }
        }
        return (steps, slots, input, values[graph.Output], values);
    }

    private void Add(GraphNode node)
    {
        if (tokenInputs.TryGetValue(node.Name, out var tokens))
        {
            AddTokenLstm(node, tokens.Embedding, tokens.Quantizer, tokens.Ids);
            return;
        }
        var x = values[node.Inputs[0]];
        int[] shape = graph.Shapes[node.Name];
        switch (node.Kind)
        {
            case NodeKind.Conv2d or NodeKind.Linear:
                AddProduct(node, x, shape);
                break;
            case NodeKind.BatchNorm:
            {
                var (scale, shift) = BatchNorm(node);
                Emit(node, ElementwiseStep.Affine(node.Name, Float(x, node), NewSlot(shape), scale, shift, x.Length / scale.Length));
                break;
            }
            case NodeKind.ReLU:
                if (fuse && OnlyConsumer(node.Name) is { Kind: NodeKind.MaxPool } pool) // the pool takes the ReLU on its maxima
                {
                    folded.Add(pool.Name);
                    AddMaxPool(pool, Float(x, node), relu: true);
                    break;
                }
                Emit(node, ElementwiseStep.ReLU(node.Name, Float(x, node), NewSlot(shape)));
                break;
            case NodeKind.Sigmoid:
                Emit(node, ElementwiseStep.Sigmoid(node.Name, Float(x, node), NewSlot(shape)));
                break;
            case NodeKind.Tanh:
                Emit(node, ElementwiseStep.Tanh(node.Name, Float(x, node), NewSlot(shape)));
                break;
            case NodeKind.Normalize:
            {
                var mean = model[StateNames.Own(node, "mean")].Decode();
                Emit(node, ElementwiseStep.Normalize(node.Name, Float(x, node), NewSlot(shape), mean, model[StateNames.Own(node, "std")].Decode(), x.Length / mean.Length));
                break;
            }
            case NodeKind.Concat:
                Emit(node, new ConcatStep(node.Name, node.Inputs.Select(i => Float(values[i], node)).ToArray(), NewSlot(shape)));
                break;
            case NodeKind.PReLU:
            {
                var slopes = model[StateNames.Weight(node)].Decode();
                Emit(node, ElementwiseStep.PReLU(node.Name, Float(x, node), NewSlot(shape), slopes, x.Length / slopes.Length));
                break;
            }
            case NodeKind.BCPReLU:
            {
                var grid = model.Grid(StateNames.OutputGridPrefix(node));
                Emit(node, ElementwiseStep.BCPReLU(node.Name, Float(x, node), NewSlot(shape), Scalar(StateNames.Own(node, "slope")),
                    Scalar(StateNames.Own(node, "lower_clip")), Scalar(StateNames.Own(node, "upper_clip")), grid is null ? null : new ActivationCodec(grid)));
                break;
            }
            case NodeKind.MaxPool:
                AddMaxPool(node, Float(x, node), relu: false);
                break;
            case NodeKind.AvgPool or NodeKind.GlobalAvgPool:
                Emit(node, new PoolingStep(node.Name, node.Kind, Float(x, node), NewSlot(shape), node.Kernel, node.Stride, node.Padding));
                break;
            case NodeKind.Flatten or NodeKind.Dropout:
                values[node.Name] = x with { Shape = shape };
                break;
            case NodeKind.Add:
                Emit(node, ElementwiseStep.Add(node.Name, FloatMap(x, node), FloatMap(values[node.Inputs[1]], node), NewSlot(shape)));
                break;
            case NodeKind.Embedding:
                if (TokenGateLstm(node) is var (quantizer, lstm)) // the embedding, its quantizer and the LSTM's input product become one table
                {
                    folded.Add(quantizer.Name);
                    tokenInputs[lstm.Name] = (node, quantizer, Float(x, node));
                    break;
                }
                Emit(node, new EmbeddingStep(node.Name, Float(x, node), NewSlot(shape), model[StateNames.Weight(node)]));
                break;
            case NodeKind.Lstm:
                AddLstm(node, x);
                break;
            case NodeKind.Quantize:
            {
                Emit(node, new QuantizeStep(node.Name, FloatMap(x, node), QuantizedSlot(node, sampled: true)));
                break;
            }
            default:
                throw new NotSupportedException($"No scoring step for {node.Kind}.");
        }
    }

    private void AddProduct(GraphNode node, ValueSlot x, int[] shape)
    {
        var weight = model[StateNames.Weight(node)];
        int outputs = node.Units;
        var scale = Enumerable.Repeat(1f, outputs).ToArray();
        var shift = node.Bias ? model[StateNames.Bias(node)].Decode().ToArray() : new float[outputs];
        var consumers = graph.Consumers(node.Name).ToList();
        string outputName = node.Name;
        if (consumers.Count == 1 && consumers[0].Kind == NodeKind.BatchNorm && graph.Output != node.Name)
        {
            var (bnScale, bnShift) = BatchNorm(consumers[0]);
            for (int o = 0; o < outputs; o++)
            {
                shift[o] = shift[o] * bnScale[o] + bnShift[o];
                scale[o] = bnScale[o];
            }
            folded.Add(consumers[0].Name);
            outputName = consumers[0].Name;
        }
        var output = NewSlot(shape);
        values[outputName] = output; // a folded BatchNorm's output; the product's own (pre-BatchNorm) output no longer exists
        if (node.Groups > 1)
        {
            if (!AddGroupProducts(node, weight, x, output, scale, shift)) steps.Add(new GroupedConvolutionStep(node, weight.Decode(), x, output, scale, shift));
            return;
        }
        if (x.Layout == SlotLayout.PaddedBytes)
        {
            if (x.Sampling > 1) node = node with { Stride = node.Stride / x.Sampling }; // its quantizer kept only the pixels it reads
            var absorbed = Absorb(outputName);
            if (BinaryConvolutionStep.Fits(weight, x.Codec!))
            {
                steps.Add(BinaryConvolutionStep.Create(node, weight, x.Codec!, x, output, scale, shift, absorbed));
                return;
            }
            // A float output that only a later epilogue's residual add reads (a projection block's second convolution) is written in its order.
            if (absorbed is null && fuse && outputName != graph.Output && ReadChannelsLast(outputName, null))
                values[outputName] = output = NewSlot(shape, layout: SlotLayout.ChannelsLast);
            steps.Add(DirectConvolutionStep.Create(node, weight, x.Codec!, x, output, scale, shift, absorbed));
            return;
        }
        ConvolutionWindow? window = null;
        if (node.Kind == NodeKind.Conv2d)
        {
            // Few input channels: rows gathered with the channels interleaved, and the weights' columns in their order.
            var interleaved = ConvolutionWindow.Interleaves(x.Shape[0], node.Kernel) ? weight.KernelChannelsLast() : null;
            weight = interleaved ?? weight;
            window = new ConvolutionWindow(x.Shape[0], x.Shape[1], x.Shape[2], node.Kernel, node.Stride, node.Padding, interleaved is not null);
        }
        var product = DenseProduct.Create(weight, x.IsInteger ? x.Codec : null, scale, shift, convolution: window is not null);
        if (window is not null)
        {
            var fused = product.CanFuse ? Absorb(outputName) : null;
            steps.Add(new ProductStep(node.Name, x, output, product, window, window.Positions, fused is null ? null : product.Epilogue(fused, window.OutWidth)));
        }
        else
        {
            steps.Add(new ProductStep(node.Name, x, output, product, null, 1));
        }
    }

    /// <summary>
    /// A max pool, after its input's ReLU where <paramref name="relu"/>, written channels-last where all its readers take that
    /// order (a ResNet stem's pool: the first block's quantizer and the add its second convolution's epilogue absorbs).
    /// </summary>
    private void AddMaxPool(GraphNode node, ValueSlot x, bool relu)
    {
        var layout = fuse && node.Name != graph.Output && ReadChannelsLast(node.Name, null) ? SlotLayout.ChannelsLast : SlotLayout.Floats;
        Emit(node, new PoolingStep(node.Name, node.Kind, x, NewSlot(graph.Shapes[node.Name], layout: layout), node.Kernel, node.Stride, node.Padding, relu));
    }

    /// <summary>
    /// A grouped convolution whose groups have several outputs as one product step per group (the dense kernels over that
    /// group's input channels, which are one block of the channel-major input) joined along the channels. Depthwise
    /// layers (one output per group) and grids that do not split by rows return false and take the direct step.
    /// </summary>
    private bool AddGroupProducts(GraphNode node, ExportedTensor weight, ValueSlot x, ValueSlot output, float[] scale, float[] shift)
    {
        int groups = node.Groups, perOutput = node.Units / groups, perInput = x.Shape[0] / groups, area = x.Shape[1] * x.Shape[2];
        if (perOutput < MinGroupOutputsForKernels || x.Layout == SlotLayout.PaddedBytes) return false;
        var weights = Enumerable.Range(0, groups).Select(g => weight.Rows(g * perOutput, perOutput)).ToArray();
        if (weights.Any(w => w is null)) return false;
        var window = new ConvolutionWindow(perInput, x.Shape[1], x.Shape[2], node.Kernel, node.Stride, node.Padding);
        var parts = new ValueSlot[groups];
        for (int g = 0; g < groups; g++)
        {
            var product = DenseProduct.Create(weights[g]!, x.IsInteger ? x.Codec : null, scale.AsSpan(g * perOutput, perOutput).ToArray(), shift.AsSpan(g * perOutput, perOutput).ToArray());
            parts[g] = NewSlot(new[] { perOutput, window.OutHeight, window.OutWidth });
            steps.Add(new ProductStep($"{node.Name}{GroupStepInfix}{g}", x, parts[g], product, window, window.Positions, inputOffset: g * perInput * area));
        }
        steps.Add(new ConcatStep(node.Name, parts, output));
        return true;
    }

    // A grouped convolution's per-group product steps are named node + this + group; their join keeps the node's name.
    private const string GroupStepInfix = ".group";

    /// <summary>Whether the step named <paramref name="step"/> computes (part of) node <paramref name="node"/>: its own step, or one of its group products.</summary>
    internal static bool ComputesNode(string step, string node) =>
        step == node || (step.StartsWith(node + GroupStepInfix, StringComparison.Ordinal) && int.TryParse(step.AsSpan(node.Length + GroupStepInfix.Length), out _));

    /// <summary>Outputs per group from which a grouped convolution runs on the dense kernels rather than the direct step.</summary>
    private const int MinGroupOutputsForKernels = 4;

    private void AddLstm(GraphNode node, ValueSlot x)
    {
        int time = x.Shape[0];
        var gatesIn = NewSlot(new[] { time, 4 * node.Units });
        var inputProduct = InputProduct(node, x.IsInteger ? x.Codec : null);
        EmitLstm(node, x, new ProductStep(node.Name + ".input", x, gatesIn, inputProduct, null, time, positionMajor: true), null, gatesIn);
    }

    /// <summary>The LSTM's input product W_ih·x + b on activations of <paramref name="codec"/> (null: floats).</summary>
    private DenseProduct InputProduct(GraphNode lstm, ActivationCodec? codec) =>
        DenseProduct.Create(model[StateNames.Own(lstm, "weight_ih")], codec, Enumerable.Repeat(1f, 4 * lstm.Units).ToArray(), model[StateNames.Own(lstm, "bias")].Decode());

    /// <summary>The LSTM step with its recurrent product, over input gates from <paramref name="inputProduct"/> or <paramref name="tokenGates"/>.</summary>
    private void EmitLstm(GraphNode node, ValueSlot input, ProductStep? inputProduct, TokenGates? tokenGates, ValueSlot? gatesIn)
    {
        int gates = 4 * node.Units;
        var stateGrid = model.Grid(StateNames.QuantizerPrefix(node));
        var stateCodec = stateGrid is null ? null : new ActivationCodec(stateGrid);
        var recurrentProduct = DenseProduct.Create(model[StateNames.Own(node, "weight_hh")], stateCodec?.Integers is null ? null : stateCodec, Enumerable.Repeat(1f, gates).ToArray(), new float[gates]);
        Emit(node, new LstmStep(node.Name, input, NewSlot(graph.Shapes[node.Name]), inputProduct, tokenGates, recurrentProduct, gatesIn, NewSlot(new[] { node.Units }), stateCodec));
    }

    /// <summary>The quantizer and LSTM after <paramref name="embedding"/> when they fold into <see cref="TokenGates"/>; else null.</summary>
    private (GraphNode Quantizer, GraphNode Lstm)? TokenGateLstm(GraphNode embedding)
    {
        if (!fuse || OnlyConsumer(embedding.Name) is not { Kind: NodeKind.Quantize } quantizer || OnlyConsumer(quantizer.Name) is not { Kind: NodeKind.Lstm } lstm) return null;
        var grid = model.Grid(StateNames.QuantizerPrefix(quantizer));
        if (grid is null || !IntegerLevels.TryCreate(grid.Levels, out _, out _)) return null; // float codes: a float product, whose sums may round by tile
        var table = model[StateNames.Weight(embedding)];
        return (long)table.Shape[0] * 4 * lstm.Units * sizeof(float) <= TokenGates.MaxBytes ? (quantizer, lstm) : null;
    }

    private GraphNode? OnlyConsumer(string name) => name != graph.Output && graph.Consumers(name).ToList() is [var only] && only.Inputs[0] == name ? only : null;

    /// <summary>
    /// An LSTM whose input gates come from a <see cref="TokenGates"/> table: the embedding, quantizer and input product steps run once
    /// over every token, in a workspace of their own, and the LSTM reads the token ids.
    /// </summary>
    private void AddTokenLstm(GraphNode node, GraphNode embedding, GraphNode quantizer, ValueSlot ids)
    {
        int gates = 4 * node.Units;
        var weight = model[StateNames.Weight(embedding)];
        int vocabulary = weight.Shape[0], width = weight.Shape[1];
        var codec = new ActivationCodec(model.Grid(StateNames.QuantizerPrefix(quantizer))!);
        var inputProduct = InputProduct(node, codec);
        var slots = new[]
        {
            new ValueSlot(0, new[] { vocabulary }, null),
            new ValueSlot(1, new[] { vocabulary, width }, null),
            new ValueSlot(2, new[] { vocabulary, width }, codec, SlotLayout.Shorts),
            new ValueSlot(3, new[] { vocabulary, gates }, null),
        };
        var ws = new Workspace(slots);
        var tokens = ws.Floats(slots[0]);
        for (int v = 0; v < vocabulary; v++) tokens[v] = v;
        new EmbeddingStep(embedding.Name, slots[0], slots[1], weight).Run(ws);
        new QuantizeStep(quantizer.Name, slots[1], slots[2]).Run(ws);
        new ProductStep(node.Name + ".input", slots[2], slots[3], inputProduct, null, vocabulary, positionMajor: true).Run(ws);
        EmitLstm(node, ids, null, new TokenGates(embedding.Name, ids, ws.Floats(slots[3]), vocabulary, gates), null);
    }

    /// <summary>
    /// The slot of <paramref name="quantizer"/>'s codes: padded HWC bytes when its one consumer is a convolution that fits the
    /// direct int8 kernel, integer shorts when the grid has an integer form, else quantized floats; <paramref name="sampled"/>:
    /// where it feeds a 1×1 strided convolution, only the pixels that reads (ResNet20's projections: 16,384 values encoded
    /// where 4,096 are read).
    /// </summary>
    private ValueSlot QuantizedSlot(GraphNode quantizer, bool sampled = false)
    {
        var grid = model.Grid(StateNames.QuantizerPrefix(quantizer)) ?? throw new InvalidDataException($"The frozen grid of '{quantizer.Name}' is missing.");
        var codec = new ActivationCodec(grid);
        var shape = graph.Shapes[quantizer.Name];
        if (!QuantizesToBytes(quantizer)) return NewSlot(shape, codec, codec.Integers is null ? SlotLayout.Floats : SlotLayout.Shorts);
        var consumer = graph.Consumers(quantizer.Name).Single();
        if (!sampled || consumer is not { Kernel: 1, Padding: 0, Stride: > 1 and var s }) return NewSlot(shape, codec, SlotLayout.PaddedBytes, consumer.Padding);
        return NewSlot(new[] { shape[0], (shape[1] - 1) / s + 1, (shape[2] - 1) / s + 1 }, codec, SlotLayout.PaddedBytes, sampling: s);
    }

    /// <summary>Whether the quantizer's one consumer is a convolution that fits the direct int8 kernel, which reads padded HWC bytes.</summary>
    private bool QuantizesToBytes(GraphNode quantizer)
    {
        var consumers = graph.Consumers(quantizer.Name).ToList();
        return consumers.Count == 1 && consumers[0] is { Kind: NodeKind.Conv2d, Groups: 1 } && model.Grid(StateNames.QuantizerPrefix(quantizer)) is { } grid
            && DirectConvolutionStep.Fits(model[StateNames.Weight(consumers[0])], new ActivationCodec(grid));
    }

    /// <summary>
    /// When fusion is on and <see cref="FusedTail"/> finds a chain after the convolution output <paramref name="outputName"/>,
    /// the quantizer's slot takes that output's place; else null.
    /// </summary>
    private FusedActivation? Absorb(string outputName)
    {
        if (!fuse || FusedTail(outputName) is not var (activation, quantizer)) return null;
        // Never written (the epilogue goes straight on to the quantizer's codes) unless it is the float map others read.
        if (!ReferenceEquals(values[outputName], activation.Floats)) values.Remove(outputName);
        values[quantizer.Name] = activation.Target;
        return activation;
    }

    /// <summary>
    /// The residual add (optional: one whose other operand is a float map already computed), ReLU (optional), max pool with stride
    /// equal to its kernel and no padding (optional, not after an add), Flatten (optional) and activation quantizer with integer codes
    /// that follow <paramref name="from"/>, each the only consumer of the one before; or, where the map after the add and ReLU has
    /// several consumers (a residual block's output, read by the next block's quantizer and add), the first of them that is such a
    /// quantizer, the map then written as floats too for the others. Null if the chain is anything else. The absorbed nodes are
    /// marked folded.
    /// </summary>
    private (FusedActivation Activation, GraphNode Quantizer)? FusedTail(string from)
    {
        var plan = PlanTail(from, name => values.TryGetValue(name, out var slot) && slot.Layout is SlotLayout.Floats or SlotLayout.ChannelsLast);
        if (plan is null) return null;
        ValueSlot? floats = null;
        if (plan.Shared is { } shared)
        {
            floats = NewSlot(plan.Map, layout: ReadChannelsLast(shared, plan.Quantizer) ? SlotLayout.ChannelsLast : SlotLayout.Floats);
            values[shared] = floats;
        }
        foreach (var absorbed in plan.Chain) folded.Add(absorbed.Name);
        var residual = plan.Residual is null ? null : values[plan.Residual];
        return (new FusedActivation(plan.Relu, plan.Pool, plan.Map[1], plan.Map[2], QuantizedSlot(plan.Quantizer), residual, floats), plan.Quantizer);
    }

    /// <summary>
    /// The nodes a convolution's epilogue would absorb after <paramref name="from"/> (see <see cref="FusedTail"/>), where
    /// <paramref name="computed"/> says which float maps a residual add may read; changes nothing.
    /// </summary>
    private TailPlan? PlanTail(string from, Func<string, bool> computed)
    {
        var chain = new List<GraphNode>();
        GraphNode? Next(string name)
        {
            if (name == graph.Output || graph.Consumers(name).ToList() is not [var only]) return null;
            chain.Add(only);
            return only;
        }
        string current = from;
        var node = Next(from);
        string? residual = null;
        if (node is { Kind: NodeKind.Add, Inputs: [var left, var right] } && left != right && (left == from ? right : left) is var other
            && computed(other) && graph.Shapes[other].SequenceEqual(graph.Shapes[from]))
        {
            residual = other;
            current = node.Name;
            node = Next(current);
        }
        bool relu = node?.Kind == NodeKind.ReLU;
        if (relu)
        {
            current = node!.Name;
            node = Next(current);
        }
        int pool = 1;
        if (residual is null && node is { Kind: NodeKind.MaxPool, Padding: 0 } && node.Stride == node.Kernel)
        {
            pool = node.Kernel;
            node = Next(node.Name);
        }
        var map = graph.Shapes[chain.Count >= 2 ? chain[^2].Name : from]; // the map before the node reached: what a quantizer there sees
        string? shared = null;
        if (node is null && pool == 1 && current != graph.Output && graph.Consumers(current).FirstOrDefault(c => c.Inputs is [var only] && only == current && IsIntegerQuantizer(c)) is { } first)
        {
            (node, map, shared) = (first, graph.Shapes[current], current);
            chain.Add(first);
        }
        else if (node?.Kind == NodeKind.Flatten) node = Next(node.Name);
        return node is not null && IsIntegerQuantizer(node) ? new TailPlan(chain, residual, relu, pool, map, node, shared) : null;
    }

    /// <summary>What <see cref="PlanTail"/> found: the absorbed nodes, the residual's name, ReLU, pool, the quantizer's map and node, and the map others read too.</summary>
    private sealed record TailPlan(List<GraphNode> Chain, string? Residual, bool Relu, int Pool, int[] Map, GraphNode Quantizer, string? Shared);

    /// <summary>
    /// Whether every reader of the map <paramref name="shared"/> but the fused <paramref name="quantizer"/> (if any) takes it channels-last: a
    /// quantizer into a direct convolution's bytes, or an add that a later convolution's epilogue will absorb (its other operand
    /// that convolution's output). An add left apart still reads it, element by element.
    /// </summary>
    private bool ReadChannelsLast(string shared, GraphNode? quantizer) => graph.Consumers(shared).Any() && graph.Consumers(shared).All(c => c == quantizer
        || (IsIntegerQuantizer(c) && QuantizesToBytes(c))
        || (c is { Kind: NodeKind.Add, Inputs: [var left, var right] } && left != right && ProducedByConvolution(left == shared ? right : left) is { } output
            && PlanTail(output, name => name == shared)?.Residual == shared));

    /// <summary><paramref name="name"/> when it is a convolution's output (or that of the BatchNorm folded into it), else null.</summary>
    private string? ProducedByConvolution(string name)
    {
        var node = graph.Nodes.FirstOrDefault(n => n.Name == name);
        if (node?.Kind == NodeKind.BatchNorm && graph.Consumers(node.Inputs[0]).Count() == 1) node = graph.Nodes.FirstOrDefault(n => n.Name == node.Inputs[0]);
        return node is { Kind: NodeKind.Conv2d, Groups: 1 } ? name : null;
    }

    /// <summary>Whether <paramref name="node"/> is an activation quantizer whose grid has integer levels.</summary>
    private bool IsIntegerQuantizer(GraphNode node) =>
        node.Kind == NodeKind.Quantize && model.Grid(StateNames.QuantizerPrefix(node)) is { } grid && IntegerLevels.TryCreate(grid.Levels, out _, out _);

    /// <summary>BatchNorm in eval mode as y = x·scale + shift: scale = γ/√(var+ε), shift = β − μ·scale.</summary>
    private (float[] Scale, float[] Shift) BatchNorm(GraphNode node)
    {
        var gamma = model[StateNames.Own(node, "weight")].Decode();
        var beta = model[StateNames.Own(node, "bias")].Decode();
        var mean = model[StateNames.Own(node, "running_mean")].Decode();
        var variance = model[StateNames.Own(node, "running_var")].Decode();
        var scale = new float[gamma.Length];
        var shift = new float[gamma.Length];
        for (int c = 0; c < gamma.Length; c++)
        {
            scale[c] = gamma[c] / MathF.Sqrt(variance[c] + (float)GraphNode.BatchNormEpsilon);
            shift[c] = beta[c] - mean[c] * scale[c];
        }
        return (scale, shift);
    }

    private float Scalar(string name)
    {
        var values = model[name].Decode();
        if (values.Length != 1) throw new InvalidDataException($"'{name}' should hold one value, not {values.Length}.");
        return values[0];
    }

    private static ValueSlot Float(ValueSlot slot, GraphNode node) =>
        slot.Layout != SlotLayout.Floats ? throw new NotSupportedException($"'{node.Name}' reads {(slot.Layout == SlotLayout.ChannelsLast ? "a channels-last map, which only adds and quantizers take" : "quantized activations, which only Conv2d, Linear and LSTM nodes take")}.") : slot;

    /// <summary>A float slot in either order (CHW or <see cref="SlotLayout.ChannelsLast"/>), for the nodes that read both: adds and quantizers.</summary>
    private static ValueSlot FloatMap(ValueSlot slot, GraphNode node) => slot.Layout == SlotLayout.ChannelsLast ? slot : Float(slot, node);

    private void Emit(GraphNode node, ScoringStep step)
    {
        steps.Add(step);
        values[node.Name] = step.Output;
    }

    private ValueSlot NewSlot(int[] shape, ActivationCodec? codec = null, SlotLayout layout = SlotLayout.Floats, int padding = 0, int sampling = 1)
    {
        var slot = new ValueSlot(slots.Count, shape, codec, layout, padding, sampling);
        slots.Add(slot);
        return slot;
    }
}
