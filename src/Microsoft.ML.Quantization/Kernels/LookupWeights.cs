namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// An O×K matrix of 1-, 2- or 4-bit codes into a level table shared by every row, prepared for
/// <see cref="LookupGemv"/>: the codes of g = 4 / bits consecutive depths form one 4-bit index (code i of the
/// group in bits i·bits…), two groups share a byte (the even group in the low nibble), and the bytes of 64
/// outputs for one group pair are contiguous; outputs are padded to 64 and depth to 2·g with code 0.
/// </summary>
internal sealed class LookupWeights
{
    private LookupWeights(int outputs, int depth, int bits, int[] levels, byte[] data, byte[] codes)
    {
        Outputs = outputs;
        Depth = depth;
        Bits = bits;
        Levels = levels;
        Data = data;
        Codes = codes;
    }

    /// <summary>Rows O.</summary>
    public int Outputs { get; }

    /// <summary>Columns K.</summary>
    public int Depth { get; }

    /// <summary>Bits per code: 1, 2 or 4.</summary>
    public int Bits { get; }

    /// <summary>Depths per 4-bit index: 4 / <see cref="Bits"/>.</summary>
    public int GroupSize => 4 / Bits;

    /// <summary>Group pairs per row: K rounded up to 2·g, over 2·g.</summary>
    public int Pairs => (Depth + 2 * GroupSize - 1) / (2 * GroupSize);

    /// <summary>The row length the activations must have (zero beyond K): 2·g·<see cref="Pairs"/>.</summary>
    public int PaddedDepth => 2 * GroupSize * Pairs;

    /// <summary>O rounded up to 64.</summary>
    public int PaddedOutputs => (Outputs + 63) & ~63;

    /// <summary>Integer level of each code (2^bits entries; codes past the table's end are 0).</summary>
    public int[] Levels { get; }

    /// <summary>The packed indices: byte (block · Pairs + pair) · 64 + output % 64.</summary>
    public byte[] Data { get; }

    /// <summary>The codes [O·K] as given (for the reference path).</summary>
    public byte[] Codes { get; }

    /// <summary>max |level|.</summary>
    public int MaxMagnitude => Levels.Max(Math.Abs);

    /// <summary>Prepares <paramref name="codes"/> [O·K] over <paramref name="table"/> (at most 16 levels, |level| ≤ 127).</summary>
    public static LookupWeights FromCodes(ReadOnlySpan<byte> codes, ReadOnlySpan<int> table, int outputs, int depth)
    {
        if (outputs <= 0 || depth <= 0) throw new ArgumentOutOfRangeException(nameof(outputs), "Outputs and depth must be positive.");
        if (codes.Length != (long)outputs * depth) throw new ArgumentException($"Expected {(long)outputs * depth} codes, got {codes.Length}.", nameof(codes));
        if (table.Length is 0 or > 16) throw new ArgumentException($"A lookup table holds 1 to 16 levels, not {table.Length}.", nameof(table));
        foreach (int v in table)
        {
            if (v is < -127 or > 127) throw new ArgumentOutOfRangeException(nameof(table), v, "Levels must lie in [-127, 127].");
        }
        int bits = table.Length <= 2 ? 1 : table.Length <= 4 ? 2 : 4;
        var levels = new int[1 << bits];
        table.CopyTo(levels);
        var result = new LookupWeights(outputs, depth, bits, levels, new byte[(long)((outputs + 63) / 64) * ((depth + 8 / bits - 1) / (8 / bits)) * 64], codes.ToArray());
        int g = result.GroupSize, pairs = result.Pairs;
        for (int o = 0; o < outputs; o++)
            for (int k = 0; k < depth; k++)
            {
                byte code = codes[o * depth + k];
                if (code >= table.Length) throw new ArgumentOutOfRangeException(nameof(codes), code, $"Code outside the {table.Length}-entry table.");
                int group = k / g, shift = (group % 2) * 4 + (k % g) * bits;
                result.Data[((long)(o / 64) * pairs + group / 2) * 64 + o % 64] |= (byte)(code << shift);
            }
        return result;
    }
}
