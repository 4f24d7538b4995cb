using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// One activation row against the weights (a GEMV: an LSTM step's recurrent product, a linear layer at batch 1) on AVX-512BW.
/// A row gives each unpacked block one multiply, so unpacking low-bit codes would cost three operations for every one that
/// multiplies; this path reads the weights as one sbyte each (<see cref="Int8Weights.Bytes"/>, laid out once) and feeds each
/// broadcast activation quad to four output blocks, whose 16-bit pair sums are widened only every
/// <see cref="PairGroup"/> quads.
/// </summary>
internal static partial class Int8Gemm
{
    /// <summary>
    /// The largest matrix, as one byte a weight, that a low-bit row product lays out for this path: one that stays in a core's
    /// L2 cache. Beyond it, streaming four times the bytes would cost more than unpacking the codes.
    /// </summary>
    internal const int RowPathMaxBytes = 256 * 1024;

    /// <summary>Whether the AVX-512BW path (taken where the pairs are exact) runs a product of <paramref name="positions"/> rows over <paramref name="taps"/> taps as a single row.</summary>
    internal static bool TakesRowPath(Int8Weights w, int taps, int positions) =>
        positions == 1 && taps == 1 && (w.SlotBits == 8 || (long)w.PaddedOutputs * w.PaddedDepth <= RowPathMaxBytes);

    /// <summary>c[16·b + i] for the output blocks [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> + <paramref name="blocks"/>) of the row at <paramref name="x"/>.</summary>
    private static unsafe void Row(Int8Weights w, byte* x, int* c, int maxActivation, int firstBlock, int blocks)
    {
        var bytes = w.Bytes();
        int quads = w.PaddedDepth / 4, group = PairGroup(maxActivation, w.MaxMagnitude);
        long blockStride = (long)quads * 64;
        fixed (byte* wp = bytes)
        {
            int ob = firstBlock, end = firstBlock + blocks;
            for (; ob + 4 <= end; ob += 4) Row4(wp + ob * blockStride, blockStride, quads, group, x, c + ob * 16);
            for (; ob < end; ob++) Row1(wp + ob * blockStride, quads, group, x, c + ob * 16);
        }
    }

    /// <summary>Four output blocks (64 outputs) of one row: each broadcast quad feeds all four.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Row4(byte* w, long blockStride, int quads, int group, byte* x, int* c)
    {
        var ones = Vector512.Create((short)1);
        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<short> s0 = default, s1 = default, s2 = default, s3 = default;
        sbyte* w0 = (sbyte*)w, w1 = w0 + blockStride, w2 = w1 + blockStride, w3 = w2 + blockStride;
        int pending = 0;
        for (int q = 0; q < quads; q++)
        {
            var b = Broadcast(x + 4 * q);
            long at = 64L * q;
            s0 += Avx512BW.MultiplyAddAdjacent(b, Vector512.Load(w0 + at));
            s1 += Avx512BW.MultiplyAddAdjacent(b, Vector512.Load(w1 + at));
            s2 += Avx512BW.MultiplyAddAdjacent(b, Vector512.Load(w2 + at));
            s3 += Avx512BW.MultiplyAddAdjacent(b, Vector512.Load(w3 + at));
            if (++pending == group)
            {
                Widen(ref a0, ref s0, ones); Widen(ref a1, ref s1, ones); Widen(ref a2, ref s2, ones); Widen(ref a3, ref s3, ones);
                pending = 0;
            }
        }
        Widen(ref a0, ref s0, ones); Widen(ref a1, ref s1, ones); Widen(ref a2, ref s2, ones); Widen(ref a3, ref s3, ones);
        a0.Store(c);
        a1.Store(c + 16);
        a2.Store(c + 32);
        a3.Store(c + 48);
    }

    /// <summary>One output block of one row.</summary>
    private static unsafe void Row1(byte* w, int quads, int group, byte* x, int* c)
    {
        var ones = Vector512.Create((short)1);
        Vector512<int> a = default;
        Vector512<short> s = default;
        int pending = 0;
        for (int q = 0; q < quads; q++)
        {
            s += Avx512BW.MultiplyAddAdjacent(Broadcast(x + 4 * q), Vector512.Load((sbyte*)w + 64L * q));
            if (++pending == group)
            {
                Widen(ref a, ref s, ones);
                pending = 0;
            }
        }
        Widen(ref a, ref s, ones);
        a.Store(c);
    }
}
