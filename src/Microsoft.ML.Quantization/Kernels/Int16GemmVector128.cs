using System.Runtime.Intrinsics;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// The 128-bit path of <see cref="Int16Gemm"/>, written on .NET's cross-platform <see cref="Vector128"/> API only (Arm64's
/// AdvSimd there, SSE4.1 on an x64 without AVX2, where CI runs it): the weights as int32 (<see cref="Int16Weights.Ints"/>),
/// each depth's 16 outputs times one broadcast activation per position, 4 positions a tile.
/// </summary>
internal static partial class Int16Gemm
{
    /// <summary>Whether the 128-bit path runs on this machine.</summary>
    public static bool IsVector128Accelerated => Vector128.IsHardwareAccelerated;

    /// <summary>The 128-bit path.</summary>
    public static void MultiplyVector128(Int16Weights w, ReadOnlySpan<short> x, ReadOnlySpan<int> pairOffsets, ReadOnlySpan<int> positionStarts, Span<int> c, int ldc)
    {
        if (!IsVector128Accelerated) throw new PlatformNotSupportedException("128-bit vectors are not accelerated here.");
        Check(w, x, pairOffsets, positionStarts, c, ldc);
        Vector128Path(w, x, pairOffsets, positionStarts, c, ldc);
    }

    private static unsafe void Vector128Path(Int16Weights w, ReadOnlySpan<short> x, ReadOnlySpan<int> pairOffsets, ReadOnlySpan<int> positionStarts, Span<int> c, int ldc)
    {
        int pairs = w.PaddedDepth / 2, positions = positionStarts.Length;
        var sums = new int[4 * 16];
        fixed (int* ints = w.Ints())
        fixed (short* xp = x)
        fixed (int* offsets = pairOffsets)
        fixed (int* s = sums)
        {
            for (int p = 0; p < positions; p += 4)
            {
                int tile = Math.Min(4, positions - p);
                // Rows past the tile repeat its last position: the same work, never written.
                short* x0 = xp + positionStarts[p], x1 = xp + positionStarts[p + Math.Min(1, tile - 1)];
                short* x2 = xp + positionStarts[p + Math.Min(2, tile - 1)], x3 = xp + positionStarts[p + tile - 1];
                for (int ob = 0; ob < w.PaddedOutputs / 16; ob++)
                {
                    Tile4(ints + (long)ob * 2 * pairs * 16, pairs, offsets, x0, x1, x2, x3, s);
                    for (int i = 0; i < tile; i++)
                        for (int j = 0; j < 16 && 16 * ob + j < w.Outputs; j++) c[(p + i) * ldc + 16 * ob + j] = sums[16 * i + j];
                }
            }
        }
    }

    /// <summary>Four positions on one 16-output block, written to <paramref name="sums"/>[16·position + output].</summary>
    private static unsafe void Tile4(int* block, int pairs, int* offsets, short* x0, short* x1, short* x2, short* x3, int* sums)
    {
        Vector128<int> a0 = default, b0 = default, c0 = default, d0 = default, a1 = default, b1 = default, c1 = default, d1 = default;
        Vector128<int> a2 = default, b2 = default, c2 = default, d2 = default, a3 = default, b3 = default, c3 = default, d3 = default;
        for (int k = 0; k < 2 * pairs; k++)
        {
            int* wk = block + 16 * k;
            int at = offsets[k >> 1] + (k & 1); // depth k of the position's pair k/2
            Vector128<int> wa = Vector128.Load(wk), wb = Vector128.Load(wk + 4), wc = Vector128.Load(wk + 8), wd = Vector128.Load(wk + 12);
            var v = Vector128.Create((int)x0[at]);
            a0 += wa * v; b0 += wb * v; c0 += wc * v; d0 += wd * v;
            v = Vector128.Create((int)x1[at]);
            a1 += wa * v; b1 += wb * v; c1 += wc * v; d1 += wd * v;
            v = Vector128.Create((int)x2[at]);
            a2 += wa * v; b2 += wb * v; c2 += wc * v; d2 += wd * v;
            v = Vector128.Create((int)x3[at]);
            a3 += wa * v; b3 += wb * v; c3 += wc * v; d3 += wd * v;
        }
        a0.Store(sums); b0.Store(sums + 4); c0.Store(sums + 8); d0.Store(sums + 12);
        a1.Store(sums + 16); b1.Store(sums + 20); c1.Store(sums + 24); d1.Store(sums + 28);
        a2.Store(sums + 32); b2.Store(sums + 36); c2.Store(sums + 40); d2.Store(sums + 44);
        a3.Store(sums + 48); b3.Store(sums + 52); c3.Store(sums + 56); d3.Store(sums + 60);
    }
}
