using Google.Protobuf;
using Microsoft.ML.Quantization.Serialization.Onnx.Proto;

namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>Builds an ONNX graph through the classes generated from onnx.proto: nodes, attributes and initializers.</summary>
internal sealed class OnnxGraphWriter
{
    /// <summary>The IR version and default-domain operator set the export writes (ONNX 1.12), and those of a model with int4 tensors (ONNX 1.16).</summary>
    public const int IrVersion = 8, Opset = 17, FourBitIrVersion = 10, FourBitOpset = 21;

    // ONNX 1.16's element types, newer than the onnx.proto the classes are generated from.
    private const int Uint4 = 21, Int4 = 22;

    private bool fourBit;

    private readonly GraphProto graph = new() { Name = "mlquant" };

    /// <summary>Appends a node; null inputs are left out, an empty string keeps an optional input's place.</summary>
    public void Node(string op, string name, IEnumerable<string?> inputs, IEnumerable<string> outputs, params AttributeProto?[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs.Where(i => i is not null).Select(i => i!));
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes.Where(a => a is not null).Select(a => a!));
        graph.Node.Add(node);
    }

    /// <summary>Appends a node with one output.</summary>
    public void Node(string op, string name, IEnumerable<string?> inputs, string output, params AttributeProto?[] attributes) =>
        Node(op, name, inputs, new[] { output }, attributes);

    /// <summary>Appends a node whose one output is named after it; returns that name.</summary>
    public string NodeOutput(string op, string name, IEnumerable<string?> inputs, params AttributeProto?[] attributes)
    {
        Node(op, name, inputs, name, attributes);
        return name;
    }

    /// <summary>A float initializer; returns its name.</summary>
    public string Floats(string name, int[] shape, float[] values)
    {
        var raw = new byte[values.Length * sizeof(float)];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        return Initializer(name, shape, TensorProto.Types.DataType.Float, raw);
    }

    /// <summary>An int64 initializer; returns its name.</summary>
    public string Longs(string name, int[] shape, long[] values)
    {
        var raw = new byte[values.Length * sizeof(long)];
        Buffer.BlockCopy(values, 0, raw, 0, raw.Length);
        return Initializer(name, shape, TensorProto.Types.DataType.Int64, raw);
    }

    /// <summary>A float scalar initializer; returns its name.</summary>
    public string Scalar(string name, float value) => Floats(name, Array.Empty<int>(), new[] { value });

    /// <summary>An int8 or uint8 initializer (each value already in the type's range); returns its name.</summary>
    public string Bytes(string name, int[] shape, int[] values, bool signed) =>
        Initializer(name, shape, signed ? TensorProto.Types.DataType.Int8 : TensorProto.Types.DataType.Uint8,
            values.Select(v => signed ? unchecked((byte)(sbyte)v) : (byte)v).ToArray());

    /// <summary>An int4 or uint4 initializer (each value already in the type's range), two to a byte, low nibble first; the model then needs opset 21.</summary>
    public string Nibbles(string name, int[] shape, int[] values, bool signed)
    {
        fourBit = true;
        var raw = new byte[(values.Length + 1) / 2];
        for (int i = 0; i < values.Length; i++) raw[i / 2] |= (byte)((values[i] & 0xF) << (4 * (i % 2)));
        return Initializer(name, shape, (TensorProto.Types.DataType)(signed ? Int4 : Uint4), raw);
    }

    private string Initializer(string name, int[] shape, TensorProto.Types.DataType type, byte[] raw)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(raw) };
        tensor.Dims.AddRange(shape.Select(d => (long)d));
        graph.Initializer.Add(tensor);
        return name;
    }

    /// <summary>Declares a graph input or output of element type <paramref name="type"/> and shape [N, ...<paramref name="perExample"/>].</summary>
    public void Value(bool input, string name, TensorProto.Types.DataType type, IEnumerable<int> perExample)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "N" });
        shape.Dim.AddRange(perExample.Select(d => new TensorShapeProto.Types.Dimension { DimValue = d }));
        var value = new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
        (input ? graph.Input : graph.Output).Add(value);
    }

    /// <summary>The model's bytes, importing <paramref name="opset"/> of the default domain (by default 17, or 21 when it holds int4 tensors).</summary>
    public byte[] ToModel(int? opset = null)
    {
        opset ??= fourBit ? FourBitOpset : Opset;
        var model = new ModelProto { IrVersion = opset >= FourBitOpset ? FourBitIrVersion : IrVersion, ProducerName = "MLQuant", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset.Value });
        return model.ToByteArray();
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var attribute = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        attribute.Ints.AddRange(values);
        return attribute;
    }
}
