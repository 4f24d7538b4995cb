namespace Microsoft.ML.Quantization.Serialization;

/// <summary>
/// The binary form of an <see cref="ExportedModel"/> (inside the payload container, which adds the version
/// and checksum). Quantized weights are stored as packed codes at their bitwidth with their grid; float
/// tensors as little-endian float32. The reader checks every count and size against the bytes left before
/// allocating, so a corrupted file fails with <see cref="InvalidDataException"/>, not an allocation.
/// <code>
///   graph JSON | i32 tensors |
///   per tensor: name | u8 kind (0 float, 1 quantized) | u8 rank | i32 dims |
///     float: values | quantized: u8 scheme | u8 bits | i32 groups | i32 levels per group |
///       f32 scales | f32 levels | f32 thresholds | u8 has code order | [i32 code order] | packed codes
/// </code>
/// </summary>
internal static class ExportedModelFormat
{
    private const int MaxTensors = 100_000;
    private const int MaxRank = 8;

    public static void Write(BinaryWriter writer, ExportedModel model)
    {
        writer.Write(GraphSerializer.Write(model.Graph));
        writer.Write(model.Tensors.Count);
        foreach (var (name, tensor) in model.Tensors.OrderBy(t => t.Key, StringComparer.Ordinal))
        {
            writer.Write(name);
            writer.Write((byte)(tensor.Quantized is null ? 0 : 1));
            writer.Write((byte)tensor.Shape.Length);
            foreach (int d in tensor.Shape) writer.Write(d);
            if (tensor.Values is not null)
            {
                foreach (float v in tensor.Values) writer.Write(v);
                continue;
            }
            var q = tensor.Quantized!;
            var grid = q.Grid;
            writer.Write((byte)q.Scheme);
            writer.Write((byte)grid.Bits);
            writer.Write(grid.GroupCount);
            writer.Write(grid.LevelCount);
            foreach (float v in grid.Scales) writer.Write(v);
            foreach (float v in grid.Levels) writer.Write(v);
            foreach (float v in grid.Thresholds) writer.Write(v);
            writer.Write((byte)(grid.CodeOrder is null ? 0 : 1));
            if (grid.CodeOrder is not null) foreach (int c in grid.CodeOrder) writer.Write(c);
            writer.Write(CodePacking.Pack(q.Codes, grid.Bits));
        }
    }

    public static ExportedModel Read(BinaryReader reader)
    {
        var graph = GraphSerializer.Read(reader.ReadString());
        int count = reader.ReadInt32();
        if (count is < 0 or > MaxTensors) throw new InvalidDataException($"The model claims {count} tensors.");
        var tensors = new Dictionary<string, ExportedTensor>(count, StringComparer.Ordinal);
        for (int i = 0; i < count; i++)
        {
            string name = reader.ReadString();
            try
            {
                if (!tensors.TryAdd(name, ReadTensor(reader))) throw new InvalidDataException("It appears twice.");
            }
            catch (Exception e) when (e is InvalidDataException or ArgumentException)
            {
                throw new InvalidDataException($"Tensor '{name}' is invalid: {e.Message}", e);
            }
        }
        return new ExportedModel(graph, tensors);
    }

    private static ExportedTensor ReadTensor(BinaryReader reader)
    {
        byte kind = reader.ReadByte();
        int rank = reader.ReadByte();
        if (kind > 1) throw new InvalidDataException($"Unknown tensor kind {kind}.");
        if (rank > MaxRank) throw new InvalidDataException($"Rank {rank} exceeds {MaxRank}.");
        var shape = new int[rank];
        long elements = 1;
        for (int d = 0; d < rank; d++)
        {
            shape[d] = reader.ReadInt32();
            if (shape[d] < 0) throw new InvalidDataException($"Dimension {d} is negative ({shape[d]}).");
            elements *= shape[d];
            if (elements > int.MaxValue) throw new InvalidDataException("The shape holds more than 2^31 elements.");
        }
        if (kind == 0) return ExportedTensor.Float(shape, ReadFloats(reader, elements));

        var scheme = (QuantizationScheme)reader.ReadByte();
        if (!Enum.IsDefined(scheme)) throw new InvalidDataException($"Unknown scheme {(int)scheme}.");
        int bits = reader.ReadByte();
        if (bits is < 1 or > 8) throw new InvalidDataException($"Bitwidth {bits} is outside 1 to 8.");
        int groups = reader.ReadInt32(), levels = reader.ReadInt32();
        if (groups < 1 || groups > elements || elements % groups != 0) throw new InvalidDataException($"{groups} groups do not divide {elements} elements.");
        if (levels < 2 || levels > 1 << bits) throw new InvalidDataException($"A {bits}-bit grid cannot have {levels} levels.");
        var scales = ReadFloats(reader, groups);
        var table = ReadFloats(reader, (long)groups * levels);
        var thresholds = ReadFloats(reader, (long)groups * (levels - 1));
        int[]? order = null;
        if (reader.ReadByte() != 0)
        {
            Ensure(reader, (long)groups * levels * 4);
            order = new int[groups * levels];
            for (int i = 0; i < order.Length; i++)
            {
                order[i] = reader.ReadInt32();
                if ((uint)order[i] >= (uint)levels) throw new InvalidDataException($"Code order entry {order[i]} is outside {levels} levels.");
            }
        }
        long packedLength = CodePacking.PackedLength(elements, bits);
        Ensure(reader, packedLength);
        var codes = new byte[elements];
        CodePacking.Unpack(reader.ReadBytes((int)packedLength), bits, codes);
        var grid = new QuantizationGrid(bits, scales, table, thresholds, order);
        return ExportedTensor.Packed(new QuantizedTensor(scheme, shape, grid, codes));
    }

    private static float[] ReadFloats(BinaryReader reader, long count)
    {
        Ensure(reader, count * 4);
        var values = new float[count];
        for (long i = 0; i < count; i++) values[i] = reader.ReadSingle();
        return values;
    }

    /// <summary>Fails before allocating when fewer than <paramref name="bytes"/> bytes are left.</summary>
    private static void Ensure(BinaryReader reader, long bytes)
    {
        long left = reader.BaseStream.Length - reader.BaseStream.Position;
        if (bytes > left) throw new InvalidDataException($"It needs {bytes} bytes but only {left} are left: the file is truncated or corrupted.");
    }
}
