using System.Runtime.CompilerServices;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// The portable path of <see cref="Int8Gemm"/> where the products are small: SIMD within a register. A 64-bit word holds
/// the weights of 8 outputs (8-bit fields) or 4 (16-bit fields) at one depth, each shifted by <see cref="Int8FieldWeights.Offset"/>
/// to be non-negative, so one 64-bit multiply by an activation byte adds 8 or 4 products into their own fields. A field
/// cannot carry into the next while at most ⌊(2^bits − 1) / (range · max x)⌋ products are summed; then the fields are
/// flushed into wider sums, and Σ w·x = Σ (w + offset)·x − offset · Σ x. It needs no vector unit, so it is the path of a
/// machine without SIMD (and of one whose vector paths are switched off), 8 multiply-adds an instruction pair.
/// </summary>
internal static partial class Int8Gemm
{
    /// <summary>Field width in bits the portable path sums products in (8 or 16), or 0 where it takes the plain loop.</summary>
    /// <remarks>8-bit fields where each may take at least 4 products before a flush, else 16-bit fields where at least 2.</remarks>
    public static int FieldBits(Int8Weights w, int maxActivation) =>
        FieldRun(w, maxActivation, 8) >= 4 ? 8 : FieldRun(w, maxActivation, 16) >= 2 ? 16 : 0;

    /// <summary>How many products a field of <paramref name="bits"/> bits can sum without carrying into the next: (2^bits − 1) / (range · max x).</summary>
    private static int FieldRun(Int8Weights w, int maxActivation, int bits) =>
        (int)(((1L << bits) - 1) / Math.Max(1L, (long)w.ValueRange * Math.Max(1, maxActivation)));

    private static unsafe void Fields(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc,
        int maxActivation, int bits, int firstBlock, int blocks)
    {
        var fields = w.Fields(bits);
        int perWord = 64 / bits, taps = tapOffsets.Length, perTap = w.PaddedDepth / taps, positions = positionOffsets.Length, depth = w.PaddedDepth;
        int run = FieldRun(w, maxActivation, bits);
        int firstOutput = 16 * firstBlock, endOutput = Math.Min(w.Outputs, 16 * (firstBlock + blocks));
        var sums = new int[4 * perWord];
        Span<int> rowSums = stackalloc int[4];
        fixed (ulong* words = fields.Words)
        fixed (byte* xp = x)
        fixed (int* offsets = tapOffsets)
        fixed (int* starts = positionOffsets)
        {
            for (int p = 0; p < positions; p += 4)
            {
                int tile = TileRows(xp, starts, p, positions, out byte* x0, out byte* x1, out byte* x2, out byte* x3);
                for (int i = 0; i < tile; i++) rowSums[i] = ActivationSum(xp + starts[p + i], offsets, taps, perTap, w.Depth, maxActivation);
                for (int o = firstOutput; o < endOutput; o += perWord)
                {
                    Array.Clear(sums);
                    ulong* group = words + (long)(o / perWord) * depth;
                    FieldTile(group, offsets, taps, perTap, w.Depth, run, bits == 8, x0, x1, x2, x3, sums);
                    for (int i = 0; i < tile; i++)
                        for (int j = 0; j < perWord && o + j < endOutput; j++)
                            c[(p + i) * ldc + o + j] = sums[i * perWord + j] - fields.Offset * rowSums[i];
                }
            }
        }
    }

    /// <summary>
    /// Σ x over the real depth of one position's taps, 8 bytes an add: the bytes (each at most <paramref name="maxActivation"/>)
    /// sum in the byte lanes of a word for as many words as no lane can carry, then the lanes are added up (byte by byte,
    /// this sum cost a quarter of the products on 16-output layers).
    /// </summary>
    private static unsafe int ActivationSum(byte* x, int* offsets, int taps, int perTap, int depth, int maxActivation)
    {
        int wordsPerSum = 255 / Math.Max(1, maxActivation), pending = 0, sum = 0;
        ulong lanes = 0;
        for (int t = 0; t < taps; t++)
        {
            byte* xt = x + offsets[t];
            int n = Math.Min(perTap, depth - t * perTap), k = 0;
            for (; k + 8 <= n; k += 8)
            {
                lanes += Unsafe.ReadUnaligned<ulong>(xt + k);
                if (++pending < wordsPerSum) continue;
                sum += LaneSum(lanes);
                lanes = 0;
                pending = 0;
            }
            for (; k < n; k++) sum += xt[k];
        }
        return sum + LaneSum(lanes);
    }

    /// <summary>The sum of a word's 8 byte lanes: pairs into 16-bit lanes, whose sum one multiply gathers in the top lane.</summary>
    private static int LaneSum(ulong lanes)
    {
        const ulong evenBytes = 0x00FF00FF00FF00FF;
        ulong pairs = (lanes & evenBytes) + ((lanes >> 8) & evenBytes);
        return (int)((pairs * 0x0001000100010001UL) >> 48);
    }

    /// <summary>The rows of the 4-position tile at <paramref name="p"/>; rows past the positions repeat the last one (the same work, never written).</summary>
    private static unsafe int TileRows(byte* xp, int* starts, int p, int positions, out byte* x0, out byte* x1, out byte* x2, out byte* x3)
    {
        int tile = Math.Min(4, positions - p);
        x0 = xp + starts[p];
        x1 = xp + starts[p + Math.Min(1, tile - 1)];
        x2 = xp + starts[p + Math.Min(2, tile - 1)];
        x3 = xp + starts[p + tile - 1];
        return tile;
    }

    /// <summary>
    /// Four positions on one word of fields: products summed in the fields for <paramref name="run"/> depths, then flushed.
    /// 16-bit fields go straight into the int sums; 8-bit fields are spread into 16-bit fields (even and odd bytes), which take
    /// 257 such flushes before they are added to the int sums. The products loop lies in this body: as a call of its own per
    /// tap and run it cost a fifth of a 16-channel layer (ResNet20's first stage). It takes two depths an iteration and
    /// <see cref="Flush"/> is inlined: with one depth and a call, .NET 10 stored and reloaded three of the four sums every
    /// depth (3×3 convolutions without SIMD, 2026-12-07: 64 channels at 2 bits 36 → 51 GOPS, at 4 bits 23 → 31, 16 channels 25 → 31).
    /// </summary>
    private static unsafe void FieldTile(ulong* group, int* offsets, int taps, int perTap, int depth, int run, bool eightBit, byte* x0, byte* x1, byte* x2, byte* x3, int[] sums)
    {
        ulong a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        Span<ulong> wide = stackalloc ulong[8];
        int pending = 0, spreads = 0;
        for (int t = 0; t < taps; t++)
        {
            int at = offsets[t], n = Math.Min(perTap, depth - t * perTap);
            ulong* wt = group + t * perTap;
            for (int k = 0; k < n;)
            {
                int count = Math.Min(n - k, run - pending);
                ulong* w = wt + k;
                byte* y0 = x0 + at + k, y1 = x1 + at + k, y2 = x2 + at + k, y3 = x3 + at + k;
                nint j = 0, pairs = count & ~1; // native-sized indices: with int ones the JIT sign-extended and spilled in the loop
                for (; j < pairs; j += 2)
                {
                    ulong wv = w[j], wu = w[j + 1];
                    a0 += wv * y0[j] + wu * y0[j + 1];
                    a1 += wv * y1[j] + wu * y1[j + 1];
                    a2 += wv * y2[j] + wu * y2[j + 1];
                    a3 += wv * y3[j] + wu * y3[j + 1];
                }
                if (j < count)
                {
                    ulong wv = w[j];
                    a0 += wv * y0[j];
                    a1 += wv * y1[j];
                    a2 += wv * y2[j];
                    a3 += wv * y3[j];
                }
                k += count;
                pending += count;
                if (pending < run) continue;
                spreads = Flush(eightBit, false, a0, a1, a2, a3, wide, spreads, sums);
                a0 = a1 = a2 = a3 = 0;
                pending = 0;
            }
        }
        Flush(eightBit, true, a0, a1, a2, a3, wide, spreads, sums);
    }

    /// <summary>Adds the four positions' words of fields (<paramref name="a0"/> to <paramref name="a3"/>) to the sums (8-bit fields through <paramref name="wide"/>); returns the spreads pending in it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Flush(bool eightBit, bool last, ulong a0, ulong a1, ulong a2, ulong a3, Span<ulong> wide, int spreads, int[] sums)
    {
        if (!eightBit)
        {
            for (int f = 0; f < 4; f++)
            {
                sums[f] += (int)((a0 >> (16 * f)) & 0xFFFF);
                sums[4 + f] += (int)((a1 >> (16 * f)) & 0xFFFF);
                sums[8 + f] += (int)((a2 >> (16 * f)) & 0xFFFF);
                sums[12 + f] += (int)((a3 >> (16 * f)) & 0xFFFF);
            }
            return 0;
        }
        const ulong evenBytes = 0x00FF00FF00FF00FF;
        wide[0] += a0 & evenBytes; wide[1] += (a0 >> 8) & evenBytes;
        wide[2] += a1 & evenBytes; wide[3] += (a1 >> 8) & evenBytes;
        wide[4] += a2 & evenBytes; wide[5] += (a2 >> 8) & evenBytes;
        wide[6] += a3 & evenBytes; wide[7] += (a3 >> 8) & evenBytes;
        if (++spreads < 257 && !last) return spreads;
        // Position i's 16-bit fields: even bytes hold outputs 0, 2, 4, 6, odd bytes 1, 3, 5, 7.
        for (int i = 0; i < 4; i++)
            for (int f = 0; f < 4; f++)
            {
                sums[8 * i + 2 * f] += (int)((wide[2 * i] >> (16 * f)) & 0xFFFF);
                sums[8 * i + 2 * f + 1] += (int)((wide[2 * i + 1] >> (16 * f)) & 0xFFFF);
            }
        wide.Clear();
        return 0;
    }
}

/// <summary>
/// <see cref="Int8Weights"/> laid out for <see cref="Int8Gemm"/>'s field path: for each group of 64 / (field bits)
/// outputs, one word per depth whose field j holds w[group · n + j, k] + <see cref="Offset"/> (0 for padded outputs).
/// </summary>
internal sealed class Int8FieldWeights
{
    /// <summary>Lays out <paramref name="w"/> in fields of <paramref name="bits"/> bits (8 or 16).</summary>
    public Int8FieldWeights(Int8Weights w, int bits)
    {
        if (bits is not (8 or 16)) throw new ArgumentOutOfRangeException(nameof(bits), bits, "Fields are 8 or 16 bits.");
        Offset = -w.MinValue;
        int perWord = 64 / bits, depth = w.PaddedDepth;
        Words = new ulong[(w.PaddedOutputs / perWord) * depth];
        for (int o = 0; o < w.Outputs; o++)
            for (int k = 0; k < w.Depth; k++)
                Words[(o / perWord) * depth + k] |= (ulong)(w.Value(o, k) + Offset) << (bits * (o % perWord));
    }

    /// <summary>Added to every weight to make it non-negative: −min w.</summary>
    public int Offset { get; }

    /// <summary>The words, output group major.</summary>
    public ulong[] Words { get; }
}
