using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// The W1A1 product by XOR and popcount. Weights are ±1 bits (set = +1, <see cref="BinaryWeights"/>); an activation
/// in {−1, 0, +1} is two bits: <c>sign</c> (set = +1) and <c>nonzero</c> (clear for 0, which is how zero padding
/// and unsigned 1-bit activations in {0, 1} are written). Then Σ_k w_k·a_k = popcount(nonzero) − 2·M with the
/// mismatch count M = Σ popcount((w XOR sign) AND nonzero), which this kernel computes:
/// C[p·ldc + o] = Σ_t Σ_j popcount((W[o, t·J + j] ^ S[q]) &amp; N[q]), q = positionOffsets[p] + tapOffsets[t] + j,
/// J = <see cref="BinaryWeights.WordsPerTap"/>. With AVX-512BW: 8 outputs per vector (one 64-bit lane each), the
/// activation words broadcast, one ternary-logic op for XOR-AND and the byte-shuffle popcount (vpshufb on nibbles,
/// summed per lane by vpsadbw), since .NET exposes no vector popcount. Otherwise a portable scalar loop.
/// </summary>
internal static class BinaryGemm
{
    /// <summary>Whether the vector path runs on this machine.</summary>
    public static bool IsAccelerated => Avx512BW.IsSupported;

    /// <summary>Runs the fastest path for the machine.</summary>
    public static void Multiply(BinaryWeights w, ReadOnlySpan<ulong> sign, ReadOnlySpan<ulong> nonzero, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc)
    {
        if (IsAccelerated) MultiplyAvx512(w, sign, nonzero, tapOffsets, positionOffsets, c, ldc);
        else MultiplyPortable(w, sign, nonzero, tapOffsets, positionOffsets, c, ldc);
    }

    /// <summary>The scalar path (also the fallback).</summary>
    public static void MultiplyPortable(BinaryWeights w, ReadOnlySpan<ulong> sign, ReadOnlySpan<ulong> nonzero, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc)
    {
        Check(w, sign, nonzero, tapOffsets, positionOffsets, c, ldc);
        int perTap = w.WordsPerTap;
        for (int o = 0; o < w.Outputs; o++)
            for (int p = 0; p < positionOffsets.Length; p++)
            {
                int mismatches = 0;
                for (int t = 0; t < tapOffsets.Length; t++)
                    for (int j = 0; j < perTap; j++)
                    {
                        int q = positionOffsets[p] + tapOffsets[t] + j;
                        mismatches += BitOperations.PopCount((w.Word(o, t * perTap + j) ^ sign[q]) & nonzero[q]);
                    }
                c[p * ldc + o] = mismatches;
            }
    }

    /// <summary>The AVX-512BW path: 8 outputs × 4 positions per tile.</summary>
    public static unsafe void MultiplyAvx512(BinaryWeights w, ReadOnlySpan<ulong> sign, ReadOnlySpan<ulong> nonzero, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc)
    {
        if (!Avx512BW.IsSupported) throw new PlatformNotSupportedException("AVX-512BW is not available.");
        Check(w, sign, nonzero, tapOffsets, positionOffsets, c, ldc);
        int words = w.Words, positions = positionOffsets.Length;
        fixed (ulong* wp = w.Data)
        fixed (ulong* sp = sign)
        fixed (ulong* np = nonzero)
        fixed (int* cp = c)
        fixed (int* taps = tapOffsets)
        fixed (int* starts = positionOffsets)
        {
            var source = new Source(sp, np, taps, tapOffsets.Length, w.WordsPerTap);
            for (int ob = 0; ob < w.PaddedOutputs / 8; ob++)
            {
                ulong* block = wp + (long)ob * words * 8;
                int p = 0;
                for (; p + 4 <= positions; p += 4)
                {
                    var (m0, m1, m2, m3) = Tile4(block, in source, starts + p);
                    Store(m0, cp + (long)p * ldc + ob * 8);
                    Store(m1, cp + (long)(p + 1) * ldc + ob * 8);
                    Store(m2, cp + (long)(p + 2) * ldc + ob * 8);
                    Store(m3, cp + (long)(p + 3) * ldc + ob * 8);
                }
                for (; p < positions; p++) Store(Tile1(block, in source, starts[p]), cp + (long)p * ldc + ob * 8);
            }
        }
    }

    /// <summary>Where the activation words of a window are.</summary>
    private readonly unsafe struct Source
    {
        public readonly ulong* Sign, Nonzero;
        public readonly int* Taps;
        public readonly int TapCount, PerTap;

        public Source(ulong* sign, ulong* nonzero, int* taps, int tapCount, int perTap)
        {
            Sign = sign; Nonzero = nonzero; Taps = taps; TapCount = tapCount; PerTap = perTap;
        }
    }

    // Byte counts grow by at most 8 per word, so 31 words fit a byte before vpsadbw must widen them.
    private const int WordsPerFlush = 31;

    private static unsafe (Vector512<ulong>, Vector512<ulong>, Vector512<ulong>, Vector512<ulong>) Tile4(ulong* block, in Source s, int* starts)
    {
        Vector512<ulong> t0 = default, t1 = default, t2 = default, t3 = default;
        Vector512<byte> b0 = default, b1 = default, b2 = default, b3 = default;
        int pending = 0;
        for (int t = 0; t < s.TapCount; t++)
        {
            ulong* weights = block + (long)t * s.PerTap * 8;
            int tap = s.Taps[t];
            for (int j = 0; j < s.PerTap; j++)
            {
                var wv = Avx512F.LoadVector512(weights + j * 8);
                int q = tap + j;
                b0 += Count(wv, s, starts[0] + q);
                b1 += Count(wv, s, starts[1] + q);
                b2 += Count(wv, s, starts[2] + q);
                b3 += Count(wv, s, starts[3] + q);
                if (++pending == WordsPerFlush)
                {
                    Flush(ref t0, ref b0); Flush(ref t1, ref b1); Flush(ref t2, ref b2); Flush(ref t3, ref b3);
                    pending = 0;
                }
            }
        }
        Flush(ref t0, ref b0); Flush(ref t1, ref b1); Flush(ref t2, ref b2); Flush(ref t3, ref b3);
        return (t0, t1, t2, t3);
    }

    private static unsafe Vector512<ulong> Tile1(ulong* block, in Source s, int start)
    {
        Vector512<ulong> total = default;
        Vector512<byte> bytes = default;
        int pending = 0;
        for (int t = 0; t < s.TapCount; t++)
        {
            ulong* weights = block + (long)t * s.PerTap * 8;
            int tap = s.Taps[t];
            for (int j = 0; j < s.PerTap; j++)
            {
                bytes += Count(Avx512F.LoadVector512(weights + j * 8), s, start + tap + j);
                if (++pending == WordsPerFlush)
                {
                    Flush(ref total, ref bytes);
                    pending = 0;
                }
            }
        }
        Flush(ref total, ref bytes);
        return total;
    }

    /// <summary>Per byte, the set bits of (w ^ sign) &amp; nonzero for the activation word q broadcast to all 8 outputs.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<byte> Count(Vector512<ulong> w, in Source s, int q)
    {
        // 0x28 = (A ^ B) & C for A = w, B = sign, C = nonzero.
        var bits = Avx512F.TernaryLogic(w, Vector512.Create(s.Sign[q]), Vector512.Create(s.Nonzero[q]), 0x28).AsByte();
        var table = Vector512.Create((byte)0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
        var nibble = Vector512.Create((byte)0x0F);
        var low = Avx512BW.Shuffle(table, bits & nibble);
        var high = Avx512BW.Shuffle(table, Avx512BW.ShiftRightLogical(bits.AsUInt16(), 4).AsByte() & nibble);
        return low + high;
    }

    /// <summary>Adds the byte counts of each 64-bit lane into <paramref name="total"/> and clears them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Flush(ref Vector512<ulong> total, ref Vector512<byte> bytes)
    {
        total += Avx512BW.SumAbsoluteDifferences(bytes, Vector512<byte>.Zero).AsUInt64();
        bytes = default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(Vector512<ulong> counts, int* c) => Avx2.Store(c, Avx512F.ConvertToVector256Int32(counts.AsInt64()));

    private static void Check(BinaryWeights w, ReadOnlySpan<ulong> sign, ReadOnlySpan<ulong> nonzero, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc)
    {
        if (tapOffsets.Length * w.WordsPerTap != w.Words)
            throw new ArgumentException($"{tapOffsets.Length} taps of {w.WordsPerTap} words do not make the weights' {w.Words} words.", nameof(tapOffsets));
        if (sign.Length != nonzero.Length) throw new ArgumentException("The sign and nonzero planes differ in length.", nameof(nonzero));
        int maxTap = 0;
        foreach (int t in tapOffsets)
        {
            if (t < 0) throw new ArgumentOutOfRangeException(nameof(tapOffsets), t, "Tap offsets must not be negative.");
            maxTap = Math.Max(maxTap, t);
        }
        foreach (int p in positionOffsets)
        {
            if (p < 0 || (long)p + maxTap + w.WordsPerTap > sign.Length)
                throw new ArgumentOutOfRangeException(nameof(positionOffsets), p, "A window reads outside the activation planes.");
        }
        GemmArguments.CheckOutput(w.PaddedOutputs, ldc, positionOffsets.Length, c.Length);
    }
}
