using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// C[p·ldc + o] = Σ_k W[o,k] · X[p·ldx + k] for unsigned 8-bit activations X (rows of
/// <see cref="Int8Weights.PaddedDepth"/> bytes, zero beyond K) and <see cref="Int8Weights"/> W; ldc ≥
/// <see cref="Int8Weights.PaddedOutputs"/>. Exact while 2·max X·max|W| ≤ 32767 (the pairwise sums of
/// vpmaddubsw must not saturate). With AVX-512BW: low-bit weights are unpacked in registers (shift, mask,
/// vpshufb through the code table), multiplied by four broadcast activations with vpmaddubsw and summed
/// to int32 with vpmaddwd, 16 outputs × 8 positions at a time. Otherwise a portable scalar loop.
/// .NET 10 exposes no AVX-512 VNNI (vpdpbusd) on this class of CPU, hence the two-instruction form.
/// </summary>
internal static class Int8Gemm
{
    /// <summary>Whether the vector path runs on this machine.</summary>
    public static bool IsAccelerated => Avx512BW.IsSupported;

    /// <summary>Runs the fastest path for the machine.</summary>
    public static void Multiply(Int8Weights w, ReadOnlySpan<byte> x, int ldx, int positions, Span<int> c, int ldc) =>
        Multiply(w, x, SingleTap, ldx, positions, c, ldc);

    /// <summary>
    /// The same product with the depth split into taps (a direct convolution over padded HWC bytes): the k-th
    /// quad of tap t for position p starts at x[p·<paramref name="positionStride"/> + <paramref name="tapOffsets"/>[t] + 4k];
    /// W's depth is taps × (depth per tap), a multiple of 4 per tap.
    /// </summary>
    public static void Multiply(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, int positionStride, int positions, Span<int> c, int ldc)
    {
        Check(w, x, tapOffsets, positionStride, positions, c, ldc);
        if (IsAccelerated) MultiplyAvx512(w, x, tapOffsets, positionStride, positions, c, ldc);
        else MultiplyPortable(w, x, tapOffsets, positionStride, positions, c, ldc);
    }

    /// <summary>The scalar path (also the fallback).</summary>
    public static void MultiplyPortable(Int8Weights w, ReadOnlySpan<byte> x, int ldx, int positions, Span<int> c, int ldc) =>
        MultiplyPortable(w, x, SingleTap, ldx, positions, c, ldc);

    /// <summary>The scalar path over taps.</summary>
    public static void MultiplyPortable(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, int positionStride, int positions, Span<int> c, int ldc)
    {
        Check(w, x, tapOffsets, positionStride, positions, c, ldc);
        int perTap = w.PaddedDepth / tapOffsets.Length;
        var row = new int[w.PaddedDepth];
        for (int o = 0; o < w.Outputs; o++)
        {
            for (int k = 0; k < w.Depth; k++) row[k] = w.Value(o, k);
            for (int p = 0; p < positions; p++)
            {
                int sum = 0;
                for (int k = 0; k < w.Depth; k++) sum += row[k] * x[p * positionStride + tapOffsets[k / perTap] + k % perTap];
                c[p * ldc + o] = sum;
            }
        }
    }

    /// <summary>The AVX-512BW path.</summary>
    public static void MultiplyAvx512(Int8Weights w, ReadOnlySpan<byte> x, int ldx, int positions, Span<int> c, int ldc) =>
        MultiplyAvx512(w, x, SingleTap, ldx, positions, c, ldc);

    /// <summary>The AVX-512BW path over taps.</summary>
    public static unsafe void MultiplyAvx512(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, int positionStride, int positions, Span<int> c, int ldc)
    {
        if (!Avx512BW.IsSupported) throw new PlatformNotSupportedException("AVX-512BW is not available.");
        Check(w, x, tapOffsets, positionStride, positions, c, ldc);
        int taps = tapOffsets.Length, quadsPerTap = w.PaddedDepth / 4 / taps, blockBytes = w.BlockBytes;
        var unpack = new Unpacker(w);
        fixed (byte* wp = w.Data)
        fixed (byte* xp = x)
        fixed (int* cp = c)
        fixed (int* offsets = tapOffsets)
        {
            for (int ob = 0; ob < w.PaddedOutputs / 16; ob++)
            {
                byte* blocks = wp + (long)ob * taps * quadsPerTap * blockBytes;
                int p = 0;
                for (; p + 8 <= positions; p += 8)
                    Tile8(blocks, blockBytes, offsets, taps, quadsPerTap, in unpack, xp + (long)p * positionStride, positionStride, cp + (long)p * ldc + ob * 16, ldc);
                for (; p < positions; p++)
                    Tile1(blocks, blockBytes, offsets, taps, quadsPerTap, in unpack, xp + (long)p * positionStride, cp + (long)p * ldc + ob * 16);
            }
        }
    }

    private static ReadOnlySpan<int> SingleTap => new[] { 0 };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Tile8(byte* blocks, int blockBytes, int* offsets, int taps, int quadsPerTap, in Unpacker unpack, byte* x, int stride, int* c, int ldc)
    {
        var ones = Vector512.Create((short)1);
        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int t = 0; t < taps; t++)
        {
            byte* xt = x + offsets[t];
            byte* bt = blocks + (long)t * quadsPerTap * blockBytes;
            for (int q = 0; q < quadsPerTap; q++)
            {
                var wv = unpack.Block(bt + (long)q * blockBytes);
                byte* xq = xt + 4 * q;
                a0 += Dot(xq, wv, ones);
                a1 += Dot(xq + stride, wv, ones);
                a2 += Dot(xq + 2 * stride, wv, ones);
                a3 += Dot(xq + 3 * stride, wv, ones);
                a4 += Dot(xq + 4 * stride, wv, ones);
                a5 += Dot(xq + 5 * stride, wv, ones);
                a6 += Dot(xq + 6 * stride, wv, ones);
                a7 += Dot(xq + 7 * stride, wv, ones);
            }
        }
        a0.Store(c);
        a1.Store(c + ldc);
        a2.Store(c + 2 * ldc);
        a3.Store(c + 3 * ldc);
        a4.Store(c + 4 * ldc);
        a5.Store(c + 5 * ldc);
        a6.Store(c + 6 * ldc);
        a7.Store(c + 7 * ldc);
    }

    private static unsafe void Tile1(byte* blocks, int blockBytes, int* offsets, int taps, int quadsPerTap, in Unpacker unpack, byte* x, int* c)
    {
        var ones = Vector512.Create((short)1);
        Vector512<int> acc = default;
        for (int t = 0; t < taps; t++)
        {
            byte* xt = x + offsets[t];
            byte* bt = blocks + (long)t * quadsPerTap * blockBytes;
            for (int q = 0; q < quadsPerTap; q++) acc += Dot(xt + 4 * q, unpack.Block(bt + (long)q * blockBytes), ones);
        }
        acc.Store(c);
    }

    /// <summary>16 int32 lanes: Σ over the 4 depths of the broadcast activations times the block's weights.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Dot(byte* x4, Vector512<sbyte> w, Vector512<short> ones) =>
        Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)x4).AsByte(), w), ones);

    /// <summary>Turns a stored block into 64 sbyte weights.</summary>
    private readonly struct Unpacker
    {
        private readonly int slotBits;
        private readonly Vector512<byte> table, mask;
        private readonly Vector512<ushort> wordShift;
        private readonly Vector512<ulong> qwordShift;

        public Unpacker(Int8Weights w)
        {
            slotBits = w.SlotBits;
            table = Vector512.Create(Vector128.Create(w.Table.Select(v => (byte)v).ToArray()));
            mask = Vector512.Create((byte)((1 << Math.Min(slotBits, 7)) - 1));
            // 4-bit: the upper 256 bits read the high nibbles; 2-bit: lane i reads bits 2i..2i+1.
            var shifts = new ushort[32];
            for (int i = 0; i < 32; i++) shifts[i] = (ushort)(slotBits == 4 ? 4 * (i / 16) : 2 * (i / 8));
            wordShift = Vector512.Create(shifts);
            qwordShift = Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public unsafe Vector512<sbyte> Block(byte* p)
        {
            switch (slotBits)
            {
                case 8:
                    return Vector512.Load((sbyte*)p);
                case 4:
                {
                    var v = Vector512.Create(Vector256.Load(p)).AsUInt16();
                    return Avx512BW.Shuffle(table, Avx512BW.ShiftRightLogicalVariable(v, wordShift).AsByte() & mask).AsSByte();
                }
                case 2:
                {
                    var v = Vector512.Create(Vector128.Load(p)).AsUInt16();
                    return Avx512BW.Shuffle(table, Avx512BW.ShiftRightLogicalVariable(v, wordShift).AsByte() & mask).AsSByte();
                }
                default:
                {
                    var v = Vector512.Create(*(ulong*)p);
                    return Avx512BW.Shuffle(table, Avx512F.ShiftRightLogicalVariable(v, qwordShift).AsByte() & mask).AsSByte();
                }
            }
        }
    }

    private static void Check(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, int positionStride, int positions, Span<int> c, int ldc)
    {
        if (tapOffsets.Length == 0 || w.PaddedDepth % (4 * tapOffsets.Length) != 0 || (tapOffsets.Length > 1 && w.Depth != w.PaddedDepth))
            throw new ArgumentException($"A depth of {w.Depth} does not split into {tapOffsets.Length} taps of whole quads.", nameof(tapOffsets));
        int perTap = w.PaddedDepth / tapOffsets.Length;
        if (tapOffsets.Length == 1 && positionStride < perTap) throw new ArgumentOutOfRangeException(nameof(positionStride), positionStride, $"Activation rows need {perTap} bytes.");
        if (ldc < w.PaddedOutputs) throw new ArgumentOutOfRangeException(nameof(ldc), ldc, $"Output rows need {w.PaddedOutputs} entries.");
        if (positions < 0) throw new ArgumentOutOfRangeException(nameof(positions));
        if (positions == 0) return;
        foreach (int offset in tapOffsets)
        {
            if (offset < 0 || (long)(positions - 1) * positionStride + offset + perTap > x.Length) throw new ArgumentException("The activations are too short.", nameof(x));
        }
        if ((long)(positions - 1) * ldc + w.PaddedOutputs > c.Length) throw new ArgumentException("The output is too short.", nameof(c));
    }
}
