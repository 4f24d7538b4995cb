using Microsoft.ML.Quantization.Schemes;
namespace Microsoft.ML.Quantization.Serialization;

/// <summary>
/// The binary form of an <see cref="ExportedModel"/> (inside the payload container, which adds the version
/// and checksum). Quantized weights are stored as packed codes at their bitwidth with their grid; float
/// tensors as little-endian float32. The reader checks every count and size against the bytes left before
/// allocating, so a corrupted file fails with <see cref="InvalidDataException"/>, not an allocation.
/// <code>
///   graph JSON | i32 tensors |
///   per tensor: name | u8 kind (0 float, 1 quantized) | u8 rank | i32 dims |
///     float: values | quantized: u8 scheme | u8 bits | i32 groups | i32 levels per group | f32 scales |
///       u8 table layout | table | packed codes
///   table layouts: 0 per group: f32 levels, f32 thresholds, u8 has order, [i32 order];
///                  1 shared by all groups: the same, once;
///                  2 uniform: f32 first level per group (levels first + k, thresholds first + k + ½, identity order)
/// </code>
/// Per-channel grids usually share their table or are uniform, so the tables cost a few bytes per channel.
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
            WriteTable(writer, grid);
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
        long packedLength = CodePacking.PackedLength(elements, bits);
        // The codes must be present, and the expanded tables may not outgrow the bytes that back them.
        Ensure(reader, groups * 4L + packedLength);
        if ((long)groups * levels > 64 * (reader.BaseStream.Length - reader.BaseStream.Position))
            throw new InvalidDataException($"{groups} groups of {levels} levels are out of proportion to the data.");
        var scales = ReadFloats(reader, groups);
        var (table, thresholds, order) = ReadTable(reader, groups, levels);
        Ensure(reader, packedLength);
        var codes = new byte[elements];
        CodePacking.Unpack(reader.ReadBytes((int)packedLength), bits, codes);
        var grid = new QuantizationGrid(bits, scales, table, thresholds, order);
        return ExportedTensor.Codes(new QuantizedTensor(scheme, shape, grid, codes));
    }

    private enum TableLayout : byte { PerGroup, Shared, Uniform }

    private static void WriteTable(BinaryWriter writer, QuantizationGrid grid)
    {
        int groups = grid.GroupCount, levels = grid.LevelCount;
        var layout = IsUniform(grid) ? TableLayout.Uniform : IsShared(grid) ? TableLayout.Shared : TableLayout.PerGroup;
        writer.Write((byte)layout);
        if (layout == TableLayout.Uniform)
        {
            for (int g = 0; g < groups; g++) writer.Write(grid.Levels[g * levels]);
            return;
        }
        int count = layout == TableLayout.Shared ? 1 : groups;
        foreach (float v in grid.Levels.AsSpan(0, count * levels)) writer.Write(v);
        foreach (float v in grid.Thresholds.AsSpan(0, count * (levels - 1))) writer.Write(v);
        writer.Write((byte)(grid.CodeOrder is null ? 0 : 1));
        if (grid.CodeOrder is not null) foreach (int c in grid.CodeOrder.AsSpan(0, count * levels)) writer.Write(c);
    }

    private static (float[] Levels, float[] Thresholds, int[]? Order) ReadTable(BinaryReader reader, int groups, int levels)
    {
        var layout = (TableLayout)reader.ReadByte();
        var table = new float[(long)groups * levels];
        var thresholds = new float[(long)groups * (levels - 1)];
        if (layout == TableLayout.Uniform)
        {
            var first = ReadFloats(reader, groups);
            for (int g = 0; g < groups; g++)
            {
                for (int k = 0; k < levels; k++) table[g * levels + k] = first[g] + k;
                for (int k = 0; k < levels - 1; k++) thresholds[g * (levels - 1) + k] = (float)(first[g] + k + 0.5);
            }
            return (table, thresholds, null);
        }
        if (layout is not (TableLayout.Shared or TableLayout.PerGroup)) throw new InvalidDataException($"Unknown table layout {(int)layout}.");
        int count = layout == TableLayout.Shared ? 1 : groups;
        var storedLevels = ReadFloats(reader, (long)count * levels);
        var storedThresholds = ReadFloats(reader, (long)count * (levels - 1));
        int[]? storedOrder = null;
        if (reader.ReadByte() != 0)
        {
            Ensure(reader, (long)count * levels * 4);
            storedOrder = new int[count * levels];
            for (int i = 0; i < storedOrder.Length; i++)
            {
                storedOrder[i] = reader.ReadInt32();
                if ((uint)storedOrder[i] >= (uint)levels) throw new InvalidDataException($"Code order entry {storedOrder[i]} is outside {levels} levels.");
            }
        }
        var order = storedOrder is null ? null : new int[(long)groups * levels];
        for (int g = 0; g < groups; g++)
        {
            int source = layout == TableLayout.Shared ? 0 : g;
            storedLevels.AsSpan(source * levels, levels).CopyTo(table.AsSpan(g * levels));
            storedThresholds.AsSpan(source * (levels - 1), levels - 1).CopyTo(thresholds.AsSpan(g * (levels - 1)));
            storedOrder?.AsSpan(source * levels, levels).CopyTo(order.AsSpan(g * levels));
        }
        return (table, thresholds, order);
    }

    /// <summary>Whether every group's levels are first + k and thresholds first + k + ½ exactly, with the identity order.</summary>
    private static bool IsUniform(QuantizationGrid grid)
    {
        if (grid.CodeOrder is not null && grid.CodeOrder.Where((c, i) => c != i % grid.LevelCount).Any()) return false;
        int levels = grid.LevelCount;
        for (int g = 0; g < grid.GroupCount; g++)
        {
            float first = grid.Levels[g * levels];
            for (int k = 0; k < levels; k++)
                if (grid.Levels[g * levels + k] != first + k) return false;
            for (int k = 0; k < levels - 1; k++)
                if (grid.Thresholds[g * (levels - 1) + k] != (float)(first + k + 0.5)) return false;
        }
        return true;
    }

    /// <summary>Whether every group has the first group's levels, thresholds and order.</summary>
    private static bool IsShared(QuantizationGrid grid)
    {
        int levels = grid.LevelCount;
        for (int g = 1; g < grid.GroupCount; g++)
        {
            if (!grid.Levels.AsSpan(g * levels, levels).SequenceEqual(grid.Levels.AsSpan(0, levels))) return false;
            if (!grid.Thresholds.AsSpan(g * (levels - 1), levels - 1).SequenceEqual(grid.Thresholds.AsSpan(0, levels - 1))) return false;
            if (grid.CodeOrder is not null && !grid.CodeOrder.AsSpan(g * levels, levels).SequenceEqual(grid.CodeOrder.AsSpan(0, levels))) return false;
        }
        return true;
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
