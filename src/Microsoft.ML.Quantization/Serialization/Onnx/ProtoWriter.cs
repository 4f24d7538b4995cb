using System.Text;

namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>
/// The few Protocol Buffers encodings an ONNX file needs (varints, length-delimited fields, packed repeated
/// fields), so the export depends on no protobuf library.
/// </summary>
internal sealed class ProtoWriter
{
    private readonly MemoryStream stream = new();

    /// <summary>The bytes written so far.</summary>
    public byte[] ToArray() => stream.ToArray();

    /// <summary>A varint field (int32, int64 and enum fields).</summary>
    public ProtoWriter Int(int field, long value)
    {
        Tag(field, 0);
        Varint(unchecked((ulong)value));
        return this;
    }

    /// <summary>A float field (fixed 32 bits).</summary>
    public ProtoWriter Float(int field, float value)
    {
        Tag(field, 5);
        stream.Write(BitConverter.GetBytes(value));
        return this;
    }

    /// <summary>A string field.</summary>
    public ProtoWriter String(int field, string value) => Bytes(field, Encoding.UTF8.GetBytes(value));

    /// <summary>A bytes field, or an embedded message given as its bytes.</summary>
    public ProtoWriter Bytes(int field, ReadOnlySpan<byte> value)
    {
        Tag(field, 2);
        Varint((ulong)value.Length);
        stream.Write(value);
        return this;
    }

    /// <summary>An embedded message.</summary>
    public ProtoWriter Message(int field, ProtoWriter message) => Bytes(field, message.ToArray());

    /// <summary>A packed repeated int64 field.</summary>
    public ProtoWriter Ints(int field, IEnumerable<long> values)
    {
        var packed = new ProtoWriter();
        foreach (long v in values) packed.Varint(unchecked((ulong)v));
        return Bytes(field, packed.ToArray());
    }

    private void Tag(int field, int wireType) => Varint((ulong)((field << 3) | wireType));

    private void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            stream.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }
        stream.WriteByte((byte)value);
    }
}
