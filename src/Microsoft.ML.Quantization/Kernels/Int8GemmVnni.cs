using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// The AVX-VNNI path of <see cref="Int8Gemm"/>: vpdpbusd multiplies four unsigned activation bytes by four signed
/// weight bytes and adds the sum straight into an int32 lane, so no intermediate can saturate and 8-bit weights on
/// 8-bit activations are exact. .NET exposes it on 256-bit registers here: a 16-output block is two halves, and a
/// tile is 4 positions (8 accumulators, within the 16 registers VEX encoding reaches). Blocks are unpacked with the
/// AVX-512 unpacker, so the path needs AVX-512BW as well.
/// </summary>
internal static partial class Int8Gemm
{
    /// <summary>Whether the AVX-VNNI path runs on this machine.</summary>
    public static bool IsVnniAccelerated => AvxVnni.IsSupported && Avx512BW.IsSupported;

    private static unsafe void Vnni(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int firstBlock, int blocks)
    {
        int taps = tapOffsets.Length, quadsPerTap = w.PaddedDepth / 4 / taps, blockBytes = w.BlockBytes, positions = positionOffsets.Length;
        var unpack = new Unpacker(w);
        fixed (byte* wp = w.Data)
        fixed (byte* xp = x)
        fixed (int* cp = c)
        fixed (int* offsets = tapOffsets)
        fixed (int* starts = positionOffsets)
        {
            for (int ob = firstBlock; ob < firstBlock + blocks; ob++)
            {
                byte* block = wp + (long)ob * taps * quadsPerTap * blockBytes;
                int p = 0;
                for (; p + 4 <= positions; p += 4)
                    VnniTile4(block, blockBytes, offsets, taps, quadsPerTap, in unpack, xp, starts + p, cp + (long)p * ldc + ob * 16, ldc);
                for (; p < positions; p++)
                    VnniTile1(block, blockBytes, offsets, taps, quadsPerTap, in unpack, xp + starts[p], cp + (long)p * ldc + ob * 16);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void VnniTile4(byte* blocks, int blockBytes, int* offsets, int taps, int quadsPerTap, in Unpacker unpack, byte* x, int* starts, int* c, int ldc)
    {
        Vector256<int> l0 = default, l1 = default, l2 = default, l3 = default, h0 = default, h1 = default, h2 = default, h3 = default;
        byte* x0 = x + starts[0], x1 = x + starts[1], x2 = x + starts[2], x3 = x + starts[3];
        for (int t = 0; t < taps; t++)
        {
            int tap = offsets[t];
            byte* bt = blocks + (long)t * quadsPerTap * blockBytes;
            for (int q = 0; q < quadsPerTap; q++)
            {
                var wv = unpack.Block(bt + (long)q * blockBytes);
                var low = wv.GetLower();
                var high = wv.GetUpper();
                int at = tap + 4 * q;
                var a = Quad(x0 + at);
                l0 = AvxVnni.MultiplyWideningAndAdd(l0, a, low);
                h0 = AvxVnni.MultiplyWideningAndAdd(h0, a, high);
                a = Quad(x1 + at);
                l1 = AvxVnni.MultiplyWideningAndAdd(l1, a, low);
                h1 = AvxVnni.MultiplyWideningAndAdd(h1, a, high);
                a = Quad(x2 + at);
                l2 = AvxVnni.MultiplyWideningAndAdd(l2, a, low);
                h2 = AvxVnni.MultiplyWideningAndAdd(h2, a, high);
                a = Quad(x3 + at);
                l3 = AvxVnni.MultiplyWideningAndAdd(l3, a, low);
                h3 = AvxVnni.MultiplyWideningAndAdd(h3, a, high);
            }
        }
        l0.Store(c);
        h0.Store(c + 8);
        l1.Store(c + ldc);
        h1.Store(c + ldc + 8);
        l2.Store(c + 2 * ldc);
        h2.Store(c + 2 * ldc + 8);
        l3.Store(c + 3 * ldc);
        h3.Store(c + 3 * ldc + 8);
    }

    private static unsafe void VnniTile1(byte* blocks, int blockBytes, int* offsets, int taps, int quadsPerTap, in Unpacker unpack, byte* x, int* c)
    {
        Vector256<int> low = default, high = default;
        for (int t = 0; t < taps; t++)
        {
            byte* xt = x + offsets[t];
            byte* bt = blocks + (long)t * quadsPerTap * blockBytes;
            for (int q = 0; q < quadsPerTap; q++)
            {
                var wv = unpack.Block(bt + (long)q * blockBytes);
                var a = Quad(xt + 4 * q);
                low = AvxVnni.MultiplyWideningAndAdd(low, a, wv.GetLower());
                high = AvxVnni.MultiplyWideningAndAdd(high, a, wv.GetUpper());
            }
        }
        low.Store(c);
        high.Store(c + 8);
    }

    /// <summary>The activation quad at <paramref name="x4"/> broadcast to every 32-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector256<byte> Quad(byte* x4) => Vector256.Create(*(int*)x4).AsByte();
}
