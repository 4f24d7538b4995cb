using Google.Protobuf;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Serialization.Onnx.Proto;
using DataType = Microsoft.ML.Quantization.Serialization.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>An imported ONNX classifier: the network, the factor its float input was multiplied by inside the graph, and whether it reads token ids.</summary>
internal sealed record ImportedOnnxModel(ExportedModel Model, float InputScale, bool TokenIds);

/// <summary>
/// Turns an ONNX classifier into an FP32 <see cref="ExportedModel"/>: constant subgraphs are evaluated, each
/// remaining node becomes a <see cref="GraphNode"/> (see <see cref="OnnxImporter"/>'s layer mapping), and anything
/// without an exact MLQuant equivalent is a <see cref="NotSupportedException"/> naming the node, its op type and the
/// opset. Malformed files are an <see cref="InvalidDataException"/>.
/// </summary>
internal sealed partial class OnnxImporter
{
    /// <summary>The default-domain operator sets the import reads.</summary>
    public const int MinOpset = 11, MaxOpset = 21;

    private readonly Dictionary<string, OnnxValue> values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> uses = new(StringComparer.Ordinal);
    private readonly List<GraphNode> nodes = new();
    private readonly Dictionary<string, int[]> shapes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ExportedTensor> tensors = new(StringComparer.Ordinal);
    private readonly HashSet<string> moduleNames = new(StringComparer.Ordinal) { StateNames.ModuleName(NetworkGraph.InputName) };
    private readonly string outputName;
    private float inputScale = 1f;

    private OnnxImporter(string outputName) => this.outputName = outputName;

    /// <summary>
    /// Imports the model in <paramref name="bytes"/>; <paramref name="inputName"/> and <paramref name="outputName"/> pick among several.
    /// <paramref name="mean"/> and <paramref name="std"/> (one value, or one per channel) normalise the input before the graph's first node.
    /// </summary>
    public static ImportedOnnxModel Import(byte[] bytes, string? inputName = null, string? outputName = null, float[]? mean = null, float[]? std = null)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"The file is not an ONNX model (it does not parse as an ONNX protobuf: {e.Message}).", e);
        }
        var graph = model.Graph;
        if (model.IrVersion <= 0 || graph is null || graph.Node.Count == 0)
            throw new InvalidDataException("The file is not an ONNX model: it has no IR version or no graph with nodes.");
        int opset = Opset(model);
        if (graph.SparseInitializer.Count > 0) throw new NotSupportedException("The ONNX graph has sparse initializers, which MLQuant does not import.");

        var initializers = new HashSet<string>(graph.Initializer.Select(t => t.Name), StringComparer.Ordinal);
        var input = PickValue(graph.Input.Where(v => !initializers.Contains(v.Name)).ToList(), inputName, "input");
        var output = PickValue(graph.Output.ToList(), outputName, "output");
        var importer = new OnnxImporter(output.Name);
        foreach (var tensor in graph.Initializer)
        {
            if (string.IsNullOrEmpty(tensor.Name)) throw new InvalidDataException("An ONNX initializer has no name.");
            importer.values[tensor.Name] = OnnxTensorReader.Read(tensor, "The ONNX graph");
        }
        var (inputShape, tokens) = InputShape(input);
        if (importer.values.ContainsKey(input.Name)) throw new InvalidDataException($"The ONNX input '{input.Name}' is also an initializer.");
        importer.values[input.Name] = new OnnxSymbol(NetworkGraph.InputName, inputShape, 0, tokens, Direct: false);
        importer.shapes[NetworkGraph.InputName] = inputShape;
        if (mean is not null || std is not null)
        {
            if (tokens) throw new ArgumentOutOfRangeException(nameof(mean), "The model reads token ids, which take no normalisation.");
            float[] PerChannel(float[]? values, float fill, string what) => values?.Length switch
            {
                null => Enumerable.Repeat(fill, inputShape[0]).ToArray(),
                1 => Enumerable.Repeat(values[0], inputShape[0]).ToArray(),
                int n when n == inputShape[0] => values,
                _ => throw new ArgumentOutOfRangeException(what, $"The {what} has {values.Length} values; the input has {inputShape[0]} channels (or give one value)."),
            };
            var normalization = importer.AddNormalization(NetworkGraph.InputName, "input_normalization", PerChannel(mean, 0, "mean"), PerChannel(std, 1, "std"), null);
            importer.values[input.Name] = new OnnxSymbol(normalization.Name, inputShape, 0, false, Direct: true);
        }

        var ordered = OnnxGraphOrder.Sort(graph, importer.values.Keys);
        foreach (var node in ordered)
            foreach (string name in node.Input.Where(n => n.Length > 0)) importer.uses[name] = importer.uses.GetValueOrDefault(name) + 1;
        importer.uses[output.Name] = importer.uses.GetValueOrDefault(output.Name) + 1;
        for (int i = 0; i < ordered.Count; i++)
        {
            var proto = ordered[i];
            if (proto.Domain is not ("" or "ai.onnx"))
                throw new NotSupportedException($"ONNX node '{proto.Name}' ({proto.OpType}) is in domain '{proto.Domain}'; MLQuant imports the default ONNX domain only.");
            importer.Add(new OnnxNode(proto, string.IsNullOrEmpty(proto.Name) ? $"{proto.OpType}_{i}" : proto.Name, opset));
        }
        return new ImportedOnnxModel(importer.Finish(inputShape), importer.inputScale, tokens);
    }

    private static int Opset(ModelProto model)
    {
        var imports = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").ToList();
        if (imports.Count == 0) throw new InvalidDataException("The ONNX model imports no default-domain operator set.");
        long opset = imports.Max(o => o.Version);
        if (opset is < MinOpset or > MaxOpset) throw new NotSupportedException($"The ONNX model uses opset {opset}; MLQuant imports opsets {MinOpset} to {MaxOpset}.");
        return (int)opset;
    }

    private static ValueInfoProto PickValue(List<ValueInfoProto> candidates, string? name, string what)
    {
        string option = what == "input" ? "InputName" : "OutputName";
        if (name is not null)
            return candidates.FirstOrDefault(v => v.Name == name) ?? throw new ArgumentOutOfRangeException(option,
                $"The ONNX graph has no {what} '{name}'; its {what}s are: {string.Join(", ", candidates.Select(v => $"'{v.Name}'"))}.");
        return candidates.Count switch
        {
            1 => candidates[0],
            0 => throw new InvalidDataException($"The ONNX graph has no {what}."),
            _ => throw new ArgumentOutOfRangeException(option,
                $"The ONNX graph has {candidates.Count} {what}s ({string.Join(", ", candidates.Select(v => $"'{v.Name}'"))}); name the one to use in the import options."),
        };
    }

    /// <summary>The per-example shape of the input [N, ...], and whether it holds integer token ids.</summary>
    private static (int[] Shape, bool Tokens) InputShape(ValueInfoProto input)
    {
        var tensor = input.Type?.TensorType ?? throw new NotSupportedException($"The ONNX input '{input.Name}' is not a tensor.");
        bool tokens = (DataType)tensor.ElemType switch
        {
            DataType.Float => false,
            DataType.Int64 or DataType.Int32 => true,
            var other => throw new NotSupportedException($"The ONNX input '{input.Name}' holds {other}; MLQuant imports float pixels or integer token ids."),
        };
        var dims = tensor.Shape?.Dim ?? throw new NotSupportedException($"The ONNX input '{input.Name}' has no declared shape.");
        if (dims.Count < 2) throw new NotSupportedException($"The ONNX input '{input.Name}' has rank {dims.Count}; MLQuant expects a batch dimension first, then the example's.");
        var shape = dims.Skip(1).Select((d, i) => d.DimValue is > 0 and <= int.MaxValue ? (int)d.DimValue
            : throw new NotSupportedException($"Dimension {i + 1} of the ONNX input '{input.Name}' is not a fixed positive size ({(d.DimParam.Length > 0 ? d.DimParam : d.DimValue.ToString())}); export the model with fixed example dimensions.")).ToArray();
        OnnxTensorReader.Count(shape.Select(d => (long)d), $"The ONNX input '{input.Name}'");
        if (tokens && shape.Length != 1) throw new NotSupportedException($"The ONNX input '{input.Name}' holds token ids of shape [N,{string.Join(",", shape)}]; MLQuant expects [N, tokens].");
        if (!tokens && shape.Length is not (1 or 3)) throw new NotSupportedException($"The ONNX input '{input.Name}' has shape [N,{string.Join(",", shape)}]; MLQuant expects images [N,C,H,W] or vectors [N,F].");
        return (shape, tokens);
    }

    private void Add(OnnxNode node)
    {
        var inputs = node.Inputs.Select(name => name.Length == 0 ? null : values[name]).ToList();
        try
        {
            if (OnnxConstantFolding.Ops.Contains(node.Op) && inputs.All(v => v is not OnnxSymbol))
            {
                if (node.Outputs.Count != 1) throw node.Invalid($"has {node.Outputs.Count} outputs, expected one.");
                values[node.Outputs[0]] = OnnxConstantFolding.Fold(node, inputs.Cast<OnnxConstant?>().ToList());
            }
            else if (node.Op == "Shape")
            {
                node.Allow("start", "end");
                if (node.Outputs.Count != 1) throw node.Invalid($"has {node.Outputs.Count} outputs, expected one.");
                values[node.Outputs[0]] = OnnxConstantFolding.Shape(node, Symbol(node, inputs, 0).FullDims());
            }
            else
            {
                AddLayer(node, inputs);
            }
            for (int i = 0; i < node.Outputs.Count; i++)
                if (!values.ContainsKey(node.Outputs[i])) Unused(node, i);
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            throw node.Invalid(e.Message);
        }
    }

    /// <summary>The graph reachable from the output, checked, with its tensors.</summary>
    private ExportedModel Finish(int[] inputShape)
    {
        if (!values.TryGetValue(outputName, out var value) || value is not OnnxSymbol output)
            throw new NotSupportedException($"The ONNX output '{outputName}' is not computed from the input.");
        if (output.BatchAxis != 0 || output.Shape.Count(d => d != 1) > 1)
            throw new NotSupportedException($"The ONNX output '{outputName}' has shape {output.Describe()}; a classifier outputs [N, classes].");
        string last = shapes[output.Node].Length == 1 ? output.Node
            : Append(new GraphNode { Name = Unique(output.Node + "_flatten"), Kind = NodeKind.Flatten, Inputs = new[] { output.Node } }, null);
        var reachable = new HashSet<string>(StringComparer.Ordinal) { last };
        for (int i = nodes.Count - 1; i >= 0; i--)
            if (reachable.Contains(nodes[i].Name)) reachable.UnionWith(nodes[i].Inputs);
        var kept = nodes.Where(n => reachable.Contains(n.Name)).ToList();
        NetworkGraph graph;
        try
        {
            graph = new NetworkGraph(inputShape, kept, last);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The imported ONNX graph does not fit together: {e.Message}", e);
        }
        var needed = kept.SelectMany(StateNames.Required).ToHashSet(StringComparer.Ordinal);
        return new ExportedModel(graph, tensors.Where(t => needed.Contains(t.Key)).ToDictionary(t => t.Key, t => t.Value, StringComparer.Ordinal));
    }

    /// <summary>Appends a graph node and records its shape; a shape that does not fit is an error naming <paramref name="source"/>.</summary>
    private string Append(GraphNode node, OnnxNode? source)
    {
        try
        {
            shapes[node.Name] = ShapeInference.OutputShape(node, node.Inputs.Select(i => shapes[i]).ToArray());
        }
        catch (ArgumentException e)
        {
            throw source?.Invalid(e.Message) ?? new InvalidDataException(e.Message);
        }
        nodes.Add(node);
        return node.Name;
    }

    /// <summary>A graph node name from an ONNX name: letters, digits and '_' only, unique as a module name.</summary>
    private string Unique(string onnxName)
    {
        var chars = onnxName.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_').ToArray();
        string stem = new string(chars).Trim('_');
        if (stem.Length == 0 || char.IsAsciiDigit(stem[0])) stem = "n_" + stem;
        string name = stem;
        for (int k = 2; !moduleNames.Add(StateNames.ModuleName(name)); k++) name = $"{stem}_{k}";
        return name;
    }
}
