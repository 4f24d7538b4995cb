using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// The 128-bit path of <see cref="Int8Gemm"/>, written on .NET's cross-platform <see cref="Vector128"/> API only: Arm64's
/// AdvSimd where it runs there, SSE2 on an x64 without AVX2 (where CI runs this source). Weights are widened to 16 bits
/// once (<see cref="Int8Weights.Shorts"/>); each depth multiplies a 16-output pair of vectors by one broadcast activation
/// per position, 4 positions a tile, and sums in 16-bit lanes for as many depths as cannot overflow them (the same bound as
/// vpmaddubsw's pairs) before widening into int32 sums.
/// </summary>
internal static partial class Int8Gemm
{
    /// <summary>Whether the 128-bit path runs on this machine.</summary>
    public static bool IsVector128Accelerated => Vector128.IsHardwareAccelerated;

    /// <summary>The 128-bit path for the 16-output blocks [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> + <paramref name="blocks"/>).</summary>
    public static void MultiplyVector128(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        if (!IsVector128Accelerated) throw new PlatformNotSupportedException("128-bit vectors are not accelerated here.");
        if (!PairsFit(maxActivation, w.MaxMagnitude)) throw new ArgumentOutOfRangeException(nameof(maxActivation), maxActivation, "Two products of this size would overflow 16 bits.");
        Check(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        Vector128Tiles(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
    }

    private static unsafe void Vector128Tiles(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        int taps = tapOffsets.Length, padded = w.PaddedDepth, perTap = padded / taps, positions = positionOffsets.Length;
        int run = (int)(short.MaxValue / Math.Max(1L, (long)w.MaxMagnitude * Math.Max(1, maxActivation)));
        var sums = new int[4 * 16];
        fixed (short* shorts = w.Shorts())
        fixed (byte* xp = x)
        fixed (int* offsets = tapOffsets)
        fixed (int* starts = positionOffsets)
        fixed (int* s = sums)
        {
            for (int p = 0; p < positions; p += 4)
            {
                int tile = TileRows(xp, starts, p, positions, out byte* x0, out byte* x1, out byte* x2, out byte* x3);
                for (int ob = firstBlock; ob < firstBlock + blocks; ob++)
                {
                    Array.Clear(sums);
                    Tile4(shorts + (long)ob * padded * 16, offsets, taps, perTap, w.Depth, run, x0, x1, x2, x3, s);
                    for (int i = 0; i < tile; i++)
                        for (int j = 0; j < 16 && 16 * ob + j < w.Outputs; j++) c[(p + i) * ldc + 16 * ob + j] = sums[16 * i + j];
                }
            }
        }
    }

    /// <summary>Four positions on one 16-output block: 16-bit sums over <paramref name="run"/> depths at a time, widened into <paramref name="sums"/>[16·position + output].</summary>
    private static unsafe void Tile4(short* block, int* offsets, int taps, int perTap, int depth, int run, byte* x0, byte* x1, byte* x2, byte* x3, int* sums)
    {
        Vector128<short> l0 = default, h0 = default, l1 = default, h1 = default, l2 = default, h2 = default, l3 = default, h3 = default;
        int pending = 0;
        for (int t = 0; t < taps; t++)
        {
            int at = offsets[t], n = Math.Min(perTap, depth - t * perTap);
            short* wt = block + (long)t * perTap * 16;
            byte* y0 = x0 + at, y1 = x1 + at, y2 = x2 + at, y3 = x3 + at;
            for (int k = 0; k < n;)
            {
                int end = Math.Min(n, k + run - pending);
                pending += end - k;
                for (; k < end; k++)
                {
                    var low = Vector128.Load(wt + 16 * k);
                    var high = Vector128.Load(wt + 16 * k + 8);
                    var a = Vector128.Create((short)y0[k]);
                    l0 += low * a;
                    h0 += high * a;
                    a = Vector128.Create((short)y1[k]);
                    l1 += low * a;
                    h1 += high * a;
                    a = Vector128.Create((short)y2[k]);
                    l2 += low * a;
                    h2 += high * a;
                    a = Vector128.Create((short)y3[k]);
                    l3 += low * a;
                    h3 += high * a;
                }
                if (pending < run) continue;
                Widen(ref l0, ref h0, sums);
                Widen(ref l1, ref h1, sums + 16);
                Widen(ref l2, ref h2, sums + 32);
                Widen(ref l3, ref h3, sums + 48);
                pending = 0;
            }
        }
        Widen(ref l0, ref h0, sums);
        Widen(ref l1, ref h1, sums + 16);
        Widen(ref l2, ref h2, sums + 32);
        Widen(ref l3, ref h3, sums + 48);
    }

    /// <summary>Adds the 16 outputs' 16-bit sums to their int32 sums and clears them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Widen(ref Vector128<short> low, ref Vector128<short> high, int* sums)
    {
        (Vector128.Load(sums) + Vector128.WidenLower(low)).Store(sums);
        (Vector128.Load(sums + 4) + Vector128.WidenUpper(low)).Store(sums + 4);
        (Vector128.Load(sums + 8) + Vector128.WidenLower(high)).Store(sums + 8);
        (Vector128.Load(sums + 12) + Vector128.WidenUpper(high)).Store(sums + 12);
        low = high = default;
    }
}
