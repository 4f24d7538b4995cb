using System.Text;
using Microsoft.ML.Quantization.Serialization.Onnx.Proto;
using AttributeType = Microsoft.ML.Quantization.Serialization.Onnx.Proto.AttributeProto.Types.AttributeType;

namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>One ONNX node during import: its typed attributes, and errors that name the node, its op type and the opset.</summary>
internal sealed class OnnxNode
{
    public OnnxNode(NodeProto proto, string name, int opset)
    {
        Proto = proto;
        Name = name;
        Opset = opset;
    }

    public NodeProto Proto { get; }

    /// <summary>The node's name, or a made-up one for an unnamed node.</summary>
    public string Name { get; }

    /// <summary>The default-domain operator set the model imports.</summary>
    public int Opset { get; }

    public string Op => Proto.OpType;

    /// <summary>The input names, "" for an optional input left out.</summary>
    public IReadOnlyList<string> Inputs => Proto.Input;

    public IReadOnlyList<string> Outputs => Proto.Output;

    /// <summary>The <paramref name="index"/>th input name, or "" when absent.</summary>
    public string Input(int index) => index < Proto.Input.Count ? Proto.Input[index] : "";

    /// <summary>A <see cref="NotSupportedException"/> naming the node.</summary>
    public NotSupportedException Unsupported(string reason) => new($"ONNX node '{Name}' ({Op}, opset {Opset}): {reason}");

    /// <summary>An <see cref="InvalidDataException"/> naming the node.</summary>
    public InvalidDataException Invalid(string reason) => new($"ONNX node '{Name}' ({Op}, opset {Opset}): {reason}");

    /// <summary>Refuses any attribute not in <paramref name="names"/>: an attribute MLQuant does not read would be silently dropped.</summary>
    public void Allow(params string[] names)
    {
        foreach (var attribute in Proto.Attribute)
        {
            if (attribute.Type is AttributeType.Graph or AttributeType.Graphs)
                throw Unsupported($"attribute '{attribute.Name}' holds a subgraph; control flow is not supported.");
            if (!names.Contains(attribute.Name)) throw Unsupported($"attribute '{attribute.Name}' is not supported.");
        }
    }

    public long Int(string name, long fallback) => Attribute(name, AttributeType.Int) is { } a ? a.I : fallback;

    public float Float(string name, float fallback) => Attribute(name, AttributeType.Float) is { } a ? a.F : fallback;

    public long[]? Ints(string name) => Attribute(name, AttributeType.Ints)?.Ints.ToArray();

    public string? String(string name) => Attribute(name, AttributeType.String) is { } a ? Encoding.UTF8.GetString(a.S.Span) : null;

    public TensorProto? Tensor(string name) => Attribute(name, AttributeType.Tensor)?.T;

    private AttributeProto? Attribute(string name, AttributeType type)
    {
        var attribute = Proto.Attribute.FirstOrDefault(a => a.Name == name);
        if (attribute is null) return null;
        // Old writers leave the type unset; the field that holds the value then decides.
        if (attribute.Type != type && attribute.Type != AttributeType.Undefined)
            throw Invalid($"attribute '{name}' is {attribute.Type}, expected {type}.");
        return attribute;
    }
}
