namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// An O×K matrix of signed bytes (−128 ≤ w ≤ 127) prepared for <see cref="Int8Gemm"/>: blocks of 16
/// outputs × 4 depths (64 weights, element e = 4·output + depth), outputs padded to 16 and depth to 4 with
/// zeros. Matrices with at most 16 distinct values whose table is shared by every row are stored as codes
/// of 1, 2 or 4 bits and turned back into weights by a 16-entry table in registers; others as one sbyte each.
/// In a block of 64 codes, packed byte j holds codes j, j + 64/s, … (s = codes per byte) from its low bits up,
/// so that unpacking a block is a broadcast, one shift per lane and a mask.
/// </summary>
internal sealed class Int8Weights
{
    private Int8Weights(int outputs, int depth, int slotBits, byte[] data, sbyte[] table, int[] rowSums, int maxMagnitude)
    {
        Outputs = outputs;
        Depth = depth;
        SlotBits = slotBits;
        Data = data;
        Table = table;
        RowSums = rowSums;
        MaxMagnitude = maxMagnitude;
    }

    /// <summary>Rows O.</summary>
    public int Outputs { get; }

    /// <summary>Columns K.</summary>
    public int Depth { get; }

    /// <summary>O rounded up to 16.</summary>
    public int PaddedOutputs => (Outputs + 15) & ~15;

    /// <summary>K rounded up to 4: the row length the activations must have.</summary>
    public int PaddedDepth => (Depth + 3) & ~3;

    /// <summary>Bits per stored weight: 1, 2 or 4 (codes into <see cref="Table"/>) or 8 (the value itself).</summary>
    public int SlotBits { get; }

    /// <summary>Blocks of 64 weights, 8·<see cref="SlotBits"/> bytes each, output block major.</summary>
    public byte[] Data { get; }

    /// <summary>The 16-entry code table for 1-4-bit slots (unused entries 0).</summary>
    public sbyte[] Table { get; }

    /// <summary>Σ_k w[o,k] per row, to correct for an activation offset.</summary>
    public int[] RowSums { get; }

    /// <summary>max |w|: with activations up to a, the kernel is exact while 2·a·max|w| ≤ 32767.</summary>
    public int MaxMagnitude { get; }

    /// <summary>The least weight.</summary>
    public int MinValue { get; private set; }

    /// <summary>max w − min w: with activations up to a, a product of weight minus <see cref="MinValue"/> and activation is at most a times this.</summary>
    public int ValueRange { get; private set; }

    /// <summary>The weights in fields of <paramref name="bits"/> bits for <see cref="Int8Gemm"/>'s portable field path, laid out on first use.</summary>
    public Int8FieldWeights Fields(int bits)
    {
        ref var slot = ref bits == 8 ? ref fields8 : ref fields16;
        return slot ?? Interlocked.CompareExchange(ref slot, new Int8FieldWeights(this, bits), null) ?? slot;
    }

    private Int8FieldWeights? fields8, fields16;

    /// <summary>
    /// The weights widened to 16 bits for <see cref="Int8Gemm"/>'s 128-bit path, laid out on first use: per 16-output block,
    /// the block's 16 weights at each depth in turn (padded outputs 0).
    /// </summary>
    public short[] Shorts()
    {
        if (shorts is { } laid) return laid;
        var result = new short[PaddedOutputs * PaddedDepth];
        for (int o = 0; o < Outputs; o++)
            for (int k = 0; k < Depth; k++) result[((o / 16) * PaddedDepth + k) * 16 + o % 16] = (short)Value(o, k);
        return Interlocked.CompareExchange(ref shorts, result, null) ?? result;
    }

    private short[]? shorts;

    /// <summary>
    /// The weights as one sbyte each in the blocks of 8-bit slots (64 bytes a block, padding 0): the data itself for 8-bit
    /// slots, else laid out on first use, for the AVX2 path (which would otherwise unpack each block's codes for only 4
    /// positions) and the single-row paths.
    /// </summary>
    public byte[] Bytes()
    {
        if (SlotBits == 8) return Data;
        if (bytes is { } laid) return laid;
        var result = new byte[(PaddedOutputs / 16) * (PaddedDepth / 4) * 64];
        for (int o = 0; o < Outputs; o++)
            for (int k = 0; k < Depth; k++)
            {
                var (block, e) = Locate(o, k);
                result[block * 64 + e] = (byte)(sbyte)Value(o, k);
            }
        return Interlocked.CompareExchange(ref bytes, result, null) ?? result;
    }

    private byte[]? bytes;

    /// <summary>Bytes per 64-weight block.</summary>
    public int BlockBytes => 8 * SlotBits;

    /// <summary>
    /// Prepares W given as codes [O·K] and a level table shared by all rows (integer value of each code).
    /// Uses 1/2/4-bit slots when the table has at most 2/4/16 entries, else 8-bit values.
    /// </summary>
    public static Int8Weights FromCodes(ReadOnlySpan<byte> codes, ReadOnlySpan<int> table, int outputs, int depth)
    {
        if (codes.Length != outputs * depth) throw new ArgumentException($"Expected {outputs * depth} codes, got {codes.Length}.", nameof(codes));
        foreach (int v in table)
        {
            if (v is < sbyte.MinValue or > sbyte.MaxValue) throw new ArgumentOutOfRangeException(nameof(table), v, "Int8 weights must lie in [-128, 127].");
        }
        int slot = table.Length <= 2 ? 1 : table.Length <= 4 ? 2 : table.Length <= 16 ? 4 : 8;
        var lut = new sbyte[16];
        if (slot < 8) for (int i = 0; i < table.Length; i++) lut[i] = (sbyte)table[i];
        var result = Allocate(outputs, depth, slot, lut, table.ToArray().Select(Math.Abs).DefaultIfEmpty().Max());
        int min = int.MaxValue, max = int.MinValue;
        for (int o = 0; o < outputs; o++)
        {
            int sum = 0;
            for (int k = 0; k < depth; k++)
            {
                byte code = codes[o * depth + k];
                if (code >= table.Length) throw new ArgumentOutOfRangeException(nameof(codes), code, $"Code outside the {table.Length}-entry table.");
                sum += table[code];
                min = Math.Min(min, table[code]);
                max = Math.Max(max, table[code]);
                result.Store(o, k, slot < 8 ? code : (byte)(sbyte)table[code]);
            }
            result.RowSums[o] = sum;
        }
        result.MinValue = codes.IsEmpty ? 0 : min;
        result.ValueRange = codes.IsEmpty ? 0 : max - min;
        return result;
    }

    /// <summary>Prepares W given directly as integers [O·K] in [-128, 127] (8-bit slots).</summary>
    public static Int8Weights FromValues(ReadOnlySpan<int> values, int outputs, int depth)
    {
        var codes = new byte[values.Length];
        var table = Enumerable.Range(sbyte.MinValue, 256).ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            if (values[i] is < sbyte.MinValue or > sbyte.MaxValue) throw new ArgumentOutOfRangeException(nameof(values), values[i], "Int8 weights must lie in [-128, 127].");
            codes[i] = (byte)(values[i] - sbyte.MinValue);
        }
        return FromCodes(codes, table, outputs, depth);
    }

    /// <summary>The integer weight at (o, k), read back from the blocks (the portable kernel's path).</summary>
    public int Value(int o, int k)
    {
        var (block, e) = Locate(o, k);
        int offset = block * BlockBytes;
        if (SlotBits == 8) return (sbyte)Data[offset + e];
        int perByte = 8 / SlotBits, stride = 64 / perByte;
        int code = (Data[offset + e % stride] >> (SlotBits * (e / stride))) & ((1 << SlotBits) - 1);
        return Table[code];
    }

    private static Int8Weights Allocate(int outputs, int depth, int slot, sbyte[] lut, int maxMagnitude)
    {
        int blocks = ((outputs + 15) / 16) * ((depth + 3) / 4);
        return new Int8Weights(outputs, depth, slot, new byte[blocks * 8 * slot], lut, new int[outputs], maxMagnitude);
    }

    private void Store(int o, int k, byte slotValue)
    {
        var (block, e) = Locate(o, k);
        int offset = block * BlockBytes;
        if (SlotBits == 8)
        {
            Data[offset + e] = slotValue;
            return;
        }
        int perByte = 8 / SlotBits, stride = 64 / perByte;
        Data[offset + e % stride] |= (byte)(slotValue << (SlotBits * (e / stride)));
    }

    private (int Block, int Element) Locate(int o, int k) =>
        ((o / 16) * (PaddedDepth / 4) + k / 4, 4 * (o % 16) + k % 4);
}
