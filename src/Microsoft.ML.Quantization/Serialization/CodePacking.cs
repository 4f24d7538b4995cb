namespace Microsoft.ML.Quantization.Serialization;

/// <summary>Packs codes of 1 to 8 bits densely, least significant bits first, for storage.</summary>
internal static class CodePacking
{
    /// <summary>Bytes that <paramref name="count"/> codes of <paramref name="bits"/> bits occupy.</summary>
    public static long PackedLength(long count, int bits) => (count * bits + 7) / 8;

    /// <summary>Packs <paramref name="codes"/>, each below 2^<paramref name="bits"/>.</summary>
    public static byte[] Pack(ReadOnlySpan<byte> codes, int bits)
    {
        var packed = new byte[PackedLength(codes.Length, bits)];
        long bit = 0;
        foreach (byte code in codes)
        {
            int value = code, written = 0;
            while (written < bits)
            {
                int offset = (int)(bit & 7), take = Math.Min(bits - written, 8 - offset);
                packed[bit >> 3] |= (byte)(((value >> written) & ((1 << take) - 1)) << offset);
                bit += take;
                written += take;
            }
        }
        return packed;
    }

    /// <summary>Unpacks <paramref name="codes"/>.Length codes from <paramref name="packed"/>.</summary>
    public static void Unpack(ReadOnlySpan<byte> packed, int bits, Span<byte> codes)
    {
        if (packed.Length < PackedLength(codes.Length, bits)) throw new InvalidDataException($"{packed.Length} packed bytes cannot hold {codes.Length} codes of {bits} bits.");
        long bit = 0;
        for (int i = 0; i < codes.Length; i++)
        {
            int value = 0, read = 0;
            while (read < bits)
            {
                int offset = (int)(bit & 7), take = Math.Min(bits - read, 8 - offset);
                value |= ((packed[(int)(bit >> 3)] >> offset) & ((1 << take) - 1)) << read;
                bit += take;
                read += take;
            }
            codes[i] = (byte)value;
        }
    }
}
