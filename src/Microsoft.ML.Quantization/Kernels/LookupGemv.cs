using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// y[o] = Σ_k level[code(o,k)] · x[k] for one row of unsigned 8-bit activations (batch 1) by table lookup, in the
/// manner of T-MAC: for every group of g = 4 / bits activations the 16 sums Σ_i level[c_i]·x_i over all code
/// combinations are computed once, and each output then looks up its group's 4-bit index instead of multiplying.
/// With AVX-512BW the int16 sums are split into low and high byte tables that vpshufb reads for 64 outputs at a
/// time, re-joined by byte unpacking and summed in 16 bits, widened to 32 before they could overflow. Exact
/// while 2·g·max|level|·max x ≤ 32767, a byte's two groups (<see cref="IsExact"/>). Otherwise a portable scalar loop.
/// </summary>
internal static class LookupGemv
{
    /// <summary>Whether the vector path runs on this machine.</summary>
    public static bool IsAccelerated => Avx512BW.IsSupported;

    /// <summary>Whether activations up to <paramref name="maxActivation"/> keep the table entries of a group pair within 16 bits.</summary>
    public static bool IsExact(LookupWeights w, int maxActivation) =>
        maxActivation is >= 0 and <= 255 && 2L * w.GroupSize * w.MaxMagnitude * maxActivation <= short.MaxValue;

    /// <summary>Runs the fastest path for the machine.</summary>
    public static void Multiply(LookupWeights w, ReadOnlySpan<byte> x, Span<int> y, int maxActivation = 255)
    {
        if (IsAccelerated && IsExact(w, maxActivation)) MultiplyAvx512(w, x, y, maxActivation);
        else MultiplyPortable(w, x, y);
    }

    /// <summary>The scalar path (also the fallback): the products themselves, no tables.</summary>
    public static void MultiplyPortable(LookupWeights w, ReadOnlySpan<byte> x, Span<int> y)
    {
        Check(w, x, y);
        for (int o = 0; o < w.Outputs; o++)
        {
            int sum = 0;
            for (int k = 0; k < w.Depth; k++) sum += w.Levels[w.Codes[o * w.Depth + k]] * x[k];
            y[o] = sum;
        }
    }

    /// <summary>The AVX-512BW path; <paramref name="maxActivation"/> bounds x (see <see cref="IsExact"/>).</summary>
    public static unsafe void MultiplyAvx512(LookupWeights w, ReadOnlySpan<byte> x, Span<int> y, int maxActivation = 255)
    {
        if (!Avx512BW.IsSupported) throw new PlatformNotSupportedException("AVX-512BW is not available.");
        Check(w, x, y);
        if (!IsExact(w, maxActivation)) throw new ArgumentOutOfRangeException(nameof(maxActivation), maxActivation, "Table sums would not fit 16 bits.");
        int groups = 2 * w.Pairs;
        // Low and high bytes of every group's 16 sums, each repeated in the four 128-bit lanes vpshufb reads per
        // lane: 128 bytes a group (pooled: scoring allocates nothing).
        byte[] tables = System.Buffers.ArrayPool<byte>.Shared.Rent(groups * 128);
        try
        {
            BuildTables(w, x, tables.AsSpan(0, groups * 128));
            Lookup(w, tables, y, maxActivation);
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(tables);
        }
    }

    private static unsafe void Lookup(LookupWeights w, byte[] tables, Span<int> y, int maxActivation)
    {
        int pairs = w.Pairs;
        // A pair of groups adds at most 2·tableMax to a 16-bit sum: widen to 32 bits before the next pair could overflow.
        int tableMax = Math.Max(1, w.GroupSize * w.MaxMagnitude * maxActivation), pairsPerFlush = Math.Max(1, short.MaxValue / (2 * tableMax));
        Span<int> block = stackalloc int[64];
        fixed (byte* wp = w.Data)
        fixed (byte* tp = tables)
        {
            var nibble = Vector512.Create((byte)0x0F);
            for (int ob = 0; ob < w.PaddedOutputs / 64; ob++)
            {
                byte* indices = wp + (long)ob * pairs * 64;
                Vector512<short> low = default, high = default;
                Vector512<int> low0 = default, low1 = default, high0 = default, high1 = default;
                for (int p = 0; p < pairs; p++)
                {
                    var packed = Avx512BW.LoadVector512(indices + p * 64);
                    byte* table = tp + 256 * p;
                    var even = packed & nibble;
                    var odd = Avx512BW.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & nibble;
                    var evenLow = Avx512BW.Shuffle(Avx512BW.LoadVector512(table), even);
                    var evenHigh = Avx512BW.Shuffle(Avx512BW.LoadVector512(table + 64), even);
                    var oddLow = Avx512BW.Shuffle(Avx512BW.LoadVector512(table + 128), odd);
                    var oddHigh = Avx512BW.Shuffle(Avx512BW.LoadVector512(table + 192), odd);
                    low += Avx512BW.UnpackLow(evenLow, evenHigh).AsInt16() + Avx512BW.UnpackLow(oddLow, oddHigh).AsInt16();
                    high += Avx512BW.UnpackHigh(evenLow, evenHigh).AsInt16() + Avx512BW.UnpackHigh(oddLow, oddHigh).AsInt16();
                    if ((p + 1) % pairsPerFlush == 0 || p == pairs - 1)
                    {
                        low0 += Avx512F.ConvertToVector512Int32(low.GetLower());
                        low1 += Avx512F.ConvertToVector512Int32(low.GetUpper());
                        high0 += Avx512F.ConvertToVector512Int32(high.GetLower());
                        high1 += Avx512F.ConvertToVector512Int32(high.GetUpper());
                        low = default;
                        high = default;
                    }
                }
                // Unpacking works per 128-bit lane: element e of lane L of 'low' is output 16L + e, of 'high' 16L + 8 + e.
                Scatter(low0, 0, block, 0); Scatter(low1, 2, block, 0); Scatter(high0, 0, block, 8); Scatter(high1, 2, block, 8);
                int count = Math.Min(64, w.Outputs - ob * 64);
                block[..count].CopyTo(y.Slice(ob * 64, count));
            }
        }
    }

    /// <summary>Writes 16 widened sums (lanes <paramref name="firstLane"/> and the next, 8 each) to their outputs.</summary>
    private static void Scatter(Vector512<int> sums, int firstLane, Span<int> block, int offset)
    {
        for (int i = 0; i < 16; i++) block[16 * (firstLane + i / 8) + offset + i % 8] = sums[i];
    }

    /// <summary>For every group j, entry idx = Σ_i level[(idx >> i·bits) &amp; mask] · x[j·g + i], split into low and high bytes, four times over.</summary>
    private static void BuildTables(LookupWeights w, ReadOnlySpan<byte> x, Span<byte> tables)
    {
        int g = w.GroupSize, bits = w.Bits, mask = (1 << bits) - 1;
        Span<int> sums = stackalloc int[16];
        for (int j = 0; j < tables.Length / 128; j++)
        {
            sums.Clear();
            for (int i = 0; i < g; i++)
            {
                int k = j * g + i, a = k < x.Length ? x[k] : 0;
                for (int idx = 0; idx < 16; idx++) sums[idx] += w.Levels[(idx >> (i * bits)) & mask] * a;
            }
            for (int lane = 0; lane < 4; lane++)
                for (int idx = 0; idx < 16; idx++)
                {
                    tables[128 * j + 16 * lane + idx] = (byte)sums[idx];
                    tables[128 * j + 64 + 16 * lane + idx] = (byte)(sums[idx] >> 8);
                }
        }
    }

    private static void Check(LookupWeights w, ReadOnlySpan<byte> x, Span<int> y)
    {
        if (x.Length < w.PaddedDepth) throw new ArgumentException($"The activations need {w.PaddedDepth} bytes (zero beyond {w.Depth}), got {x.Length}.", nameof(x));
        if (y.Length < w.Outputs) throw new ArgumentException($"The output needs {w.Outputs} values, got {y.Length}.", nameof(y));
    }
}
