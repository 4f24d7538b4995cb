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
/// to int32 with vpmaddwd, 16 outputs × 8 positions at a time (a single row: Int8GemmRow.cs). The pairs must not saturate, so where
/// 2·max X·max|W| exceeds 32767 (8-bit weights on 8-bit activations) the AVX-VNNI path runs instead
/// (Int8GemmVnni.cs: vpdpbusd sums each quad straight into int32). Without AVX-512BW the same tiles run on 256-bit
/// halves (Int8GemmAvx2.cs; their quads summed by vpdpbusd too where AVX-VNNI runs), without AVX2 on 128-bit quads
/// (Int8GemmQuads128.cs: SSSE3's pmaddubsw pairs on x64, sdot on Arm64 with the Dot Product extension), on Arm64 without
/// it on 128-bit vectors of .NET's cross-platform API (Int8GemmVector128.cs), and without any SIMD, or where the pairs would saturate, the portable path: products summed in
/// 8- or 16-bit fields of 64-bit words where they are small enough (Int8GemmFields.cs), else a plain loop.
/// .NET 10 offers VNNI only as 256-bit AvxVnni here (no AVX-512 VNNI class), and on this machine the 512-bit
/// pair with 16-bit sums is the faster of the two wherever it is exact.
/// </summary>
internal static partial class Int8Gemm
{
    /// <summary>Whether the vector path runs on this machine.</summary>
    public static bool IsAccelerated => Avx512BW.IsSupported;

    /// <summary>
    /// Whether activations up to <paramref name="maxActivation"/> and weights in [<paramref name="minWeight"/>, <paramref name="maxWeight"/>]
    /// (within a signed byte's [-128, 127]) fit a vector path exactly: vpmaddubsw's pairs where they cannot saturate, else
    /// AVX-VNNI's quads (on 512-bit unpacking or on AVX2's tiles) where the machine has them.
    /// </summary>
    public static bool IsExact(int maxActivation, int minWeight, int maxWeight) =>
        maxActivation is >= 0 and <= 255 && minWeight >= sbyte.MinValue && maxWeight <= sbyte.MaxValue
        && (PairsFit(maxActivation, Math.Max(Math.Abs(minWeight), Math.Abs(maxWeight))) || IsAvx2VnniAccelerated);

    /// <summary>Whether vpmaddubsw's pair sums cannot saturate.</summary>
    private static bool PairsFit(int maxActivation, int maxWeightMagnitude) => 2L * maxActivation * maxWeightMagnitude <= short.MaxValue;

    /// <summary>Quads of pair sums (vpmaddubsw, pmaddubsw) a 16-bit lane takes before it must be widened: 32767 / (2·max X·max|W|), at least 1.</summary>
    private static int PairGroup(int maxActivation, int maxWeightMagnitude) =>
        (int)Math.Max(1, short.MaxValue / (2L * Math.Max(1, maxActivation) * Math.Max(1, maxWeightMagnitude)));

    /// <summary>Quads of whole dot products (vpdpbusd, sdot) a 32-bit lane takes before it must be stored: (2³¹ − 1) / (4·max X·max|W|), at least 1.</summary>
    private static int QuadGroup(int maxActivation, int maxWeightMagnitude) =>
        (int)Math.Max(1, int.MaxValue / (4L * Math.Max(1, maxActivation) * Math.Max(1, maxWeightMagnitude)));

    /// <summary>Runs the fastest path for the machine; <paramref name="maxActivation"/> bounds the activation bytes.</summary>
    public static void Multiply(Int8Weights w, ReadOnlySpan<byte> x, int ldx, int positions, Span<int> c, int ldc, int maxActivation = 255) =>
        Strided(Path.Fastest, w, x, SingleTap, ldx, positions, c, ldc, maxActivation);

    /// <summary>
    /// The same product with the depth split into taps (a direct convolution over padded HWC bytes): the k-th
    /// quad of tap t for position p starts at x[p·<paramref name="positionStride"/> + <paramref name="tapOffsets"/>[t] + 4k];
    /// W's depth is taps × (depth per tap), a multiple of 4 per tap.
    /// </summary>
    public static void Multiply(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, int positionStride, int positions, Span<int> c, int ldc) =>
        Strided(Path.Fastest, w, x, tapOffsets, positionStride, positions, c, ldc);

    /// <summary>
    /// The tap product with each position's start given explicitly (<paramref name="positionOffsets"/>[p]), so that
    /// the positions of a whole feature map, across its rows, are tiled together.
    /// </summary>
    /// <remarks><paramref name="maxActivation"/> bounds the activation bytes: the smaller it is, the more products the
    /// vector path sums in 16 bits before widening (never past 32767, so the result stays exact).</remarks>
    public static void Multiply(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation = 255) =>
        Multiply(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, 0, w.PaddedOutputs / 16);

    /// <summary>
    /// The product for the 16-output blocks [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> + <paramref name="blocks"/>)
    /// only, so that threads can share one layer by outputs (every position of a block is then in one thread's hands).
    /// </summary>
    public static void Multiply(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        Check(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        if (IsAccelerated && PairsFit(maxActivation, w.MaxMagnitude)) Avx512(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        else if (IsVnniAccelerated) Vnni(w, x, tapOffsets, positionOffsets, c, ldc, firstBlock, blocks);
        else if (IsAvx2Accelerated && (IsAvx2VnniAccelerated || PairsFit(maxActivation, w.MaxMagnitude))) Avx2Tiles(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        else if (IsDotProductAccelerated && maxActivation <= sbyte.MaxValue) Quads128<DotProductQuads>(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        else if (IsQuads128Accelerated && PairsFit(maxActivation, w.MaxMagnitude)) Quads128<Ssse3Pairs>(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        else if (IsVector128Accelerated && PairsFit(maxActivation, w.MaxMagnitude)) Vector128Tiles(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        else Portable(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
    }

    /// <summary>The scalar path (also the fallback).</summary>
    public static void MultiplyPortable(Int8Weights w, ReadOnlySpan<byte> x, int ldx, int positions, Span<int> c, int ldc) =>
        Strided(Path.Portable, w, x, SingleTap, ldx, positions, c, ldc);

    /// <summary>The scalar path over taps.</summary>
    public static void MultiplyPortable(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, int positionStride, int positions, Span<int> c, int ldc) =>
        Strided(Path.Portable, w, x, tapOffsets, positionStride, positions, c, ldc);

    /// <summary>The scalar path over taps with explicit position starts.</summary>
    public static void MultiplyPortable(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc) =>
        MultiplyPortable(w, x, tapOffsets, positionOffsets, c, ldc, 0, w.PaddedOutputs / 16);

    /// <summary>
    /// The scalar path over taps for the 16-output blocks [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> + <paramref name="blocks"/>):
    /// the field path (Int8GemmFields.cs) where activations up to <paramref name="maxActivation"/> allow it (<see cref="FieldBits"/>), else a plain loop.
    /// </summary>
    public static void MultiplyPortable(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int firstBlock, int blocks, int maxActivation = 255)
    {
        Check(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        Portable(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
    }

    /// <summary>The AVX-512BW path.</summary>
    public static void MultiplyAvx512(Int8Weights w, ReadOnlySpan<byte> x, int ldx, int positions, Span<int> c, int ldc) =>
        Strided(Path.Avx512, w, x, SingleTap, ldx, positions, c, ldc);

    /// <summary>The AVX-512BW path over taps.</summary>
    public static void MultiplyAvx512(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, int positionStride, int positions, Span<int> c, int ldc) =>
        Strided(Path.Avx512, w, x, tapOffsets, positionStride, positions, c, ldc);

    /// <summary>
    /// The AVX-512BW path over taps with explicit position starts: 16 outputs × 8 positions per tile (two blocks × 8, or one block × 16 positions where a layer has one block). The vpmaddubsw
    /// results of up to ⌊32767 / (2 · maxActivation · max|w|)⌋ quads are summed in 16 bits before one vpmaddwd widens them.
    /// </summary>
    public static void MultiplyAvx512(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation = 255) =>
        MultiplyAvx512(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, 0, w.PaddedOutputs / 16);

    /// <summary>The AVX-512BW path over taps for the 16-output blocks [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> + <paramref name="blocks"/>).</summary>
    public static void MultiplyAvx512(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        if (!Avx512BW.IsSupported) throw new PlatformNotSupportedException("AVX-512BW is not available.");
        Check(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        Avx512(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
    }

    private enum Path { Fastest, Portable, Avx512, Vnni, Avx2 }

    /// <summary>The strided forms: position starts 0, stride, 2·stride, … (rows one after another, as im2col writes them).</summary>
    private static void Strided(Path path, Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, int stride, int positions, Span<int> c, int ldc, int maxActivation = 255)
    {
        if (stride < 0) throw new ArgumentOutOfRangeException(nameof(stride), stride, "The position stride must not be negative.");
        if (positions < 0) throw new ArgumentOutOfRangeException(nameof(positions), positions, "Positions must not be negative.");
        Span<int> starts = positions <= MaxStackPositions ? stackalloc int[positions] : new int[positions];
        for (int p = 0; p < positions; p++) starts[p] = checked(p * stride);
        switch (path)
        {
            case Path.Portable: MultiplyPortable(w, x, tapOffsets, starts, c, ldc); break;
            case Path.Avx512: MultiplyAvx512(w, x, tapOffsets, starts, c, ldc); break;
            case Path.Vnni: MultiplyVnni(w, x, tapOffsets, starts, c, ldc, 0, w.PaddedOutputs / 16); break;
            case Path.Avx2: MultiplyAvx2(w, x, tapOffsets, starts, c, ldc, maxActivation, 0, w.PaddedOutputs / 16); break;
            default: Multiply(w, x, tapOffsets, starts, c, ldc, maxActivation); break;
        }
    }

    private static void Portable(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        if (FieldBits(w, maxActivation) is var bits and > 0)
        {
            Fields(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, bits, firstBlock, blocks);
            return;
        }
        // Each tap's run of the row against its contiguous bytes: no division or index lookup per product.
        int perTap = w.PaddedDepth / tapOffsets.Length;
        var row = new int[w.PaddedDepth]; // zero past the depth, so a single tap may read its padded row whole
        for (int o = 16 * firstBlock; o < Math.Min(w.Outputs, 16 * (firstBlock + blocks)); o++)
        {
            for (int k = 0; k < w.Depth; k++) row[k] = w.Value(o, k);
            for (int p = 0; p < positionOffsets.Length; p++)
            {
                int sum = 0;
                for (int t = 0; t < tapOffsets.Length; t++)
                {
                    var weights = row.AsSpan(t * perTap, perTap);
                    var bytes = x.Slice(positionOffsets[p] + tapOffsets[t], weights.Length);
                    for (int k = 0; k < weights.Length; k++) sum += weights[k] * bytes[k];
                }
                c[p * ldc + o] = sum;
            }
        }
    }

    private static unsafe void Avx512(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        int group = PairGroup(maxActivation, w.MaxMagnitude);
        if (TakesRowPath(w, tapOffsets.Length, positionOffsets.Length))
        {
            fixed (byte* xp = x)
            fixed (int* cp = c)
                Row(w, xp + positionOffsets[0] + tapOffsets[0], cp, maxActivation, firstBlock, blocks);
            return;
        }
        var unpack = new Unpacker(w);
        switch (unpack.SlotBits)
        {
            case 8: Tiles<Slots8>(w, x, tapOffsets, positionOffsets, c, ldc, group, firstBlock, blocks, unpack); break;
            case 4: Tiles<Slots4>(w, x, tapOffsets, positionOffsets, c, ldc, group, firstBlock, blocks, unpack); break;
            case 2: Tiles<Slots2>(w, x, tapOffsets, positionOffsets, c, ldc, group, firstBlock, blocks, unpack); break;
            default: Tiles<Slots1>(w, x, tapOffsets, positionOffsets, c, ldc, group, firstBlock, blocks, unpack); break;
        }
    }

    /// <summary>The AVX-512 path's tiles over the blocks and positions, their unpacking compiled for slots of <typeparamref name="TSlots"/> bits.</summary>
    private static unsafe void Tiles<TSlots>(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc,
        int group, int firstBlock, int blocks, Unpacker unpack)
        where TSlots : struct, ISlotBits
    {
        int taps = tapOffsets.Length, quadsPerTap = w.PaddedDepth / 4 / taps, blockBytes = w.BlockBytes, positions = positionOffsets.Length;
        fixed (byte* wp = w.Data)
        fixed (byte* xp = x)
        fixed (int* cp = c)
        fixed (int* offsets = tapOffsets)
        fixed (int* starts = positionOffsets)
        {
            long stride = (long)taps * quadsPerTap * blockBytes; // one block's weights; the next block's follow
            for (int ob = firstBlock; ob < firstBlock + blocks; ob++)
            {
                byte* block = wp + ob * stride;
                bool pair = ob + 1 < firstBlock + blocks;
                int p = 0;
                for (; positions - p >= 8 || (positions - p > MaxSinglePositions && p > 0); p += 8)
                {
                    // A last part tile moves back to overlap the one before it, whose rows it rewrites with the same sums.
                    p = Math.Min(p, positions - 8);
                    int* tile = cp + (long)p * ldc + ob * 16;
                    if (pair) Tile8x2<TSlots>(block, block + stride, blockBytes, offsets, taps, quadsPerTap, group, unpack, xp, starts + p, tile, ldc);
                    else if (group >= MinTile16Group && p + 16 <= positions && IsTranslate(starts + p))
                    {
                        Tile16<TSlots>(block, blockBytes, offsets, taps, quadsPerTap, group, unpack, xp, starts + p, tile, ldc);
                        p += 8;
                    }
                    else Tile8(block, blockBytes, offsets, taps, quadsPerTap, group, in unpack, xp, starts + p, tile, ldc);
                }
                for (; p < positions; p++)
                {
                    Tile1(block, blockBytes, offsets, taps, quadsPerTap, in unpack, xp + starts[p], cp + (long)p * ldc + ob * 16);
                    if (pair) Tile1(block + stride, blockBytes, offsets, taps, quadsPerTap, in unpack, xp + starts[p], cp + (long)p * ldc + ob * 16 + 16);
                }
                if (pair) ob++;
            }
        }
    }

    private const int MaxStackPositions = 1024;

    /// <summary>
    /// The most last positions that run one at a time (<see cref="Tile1"/>, about half a tile's time each); more take a
    /// tile overlapping the one before (VggSmall's 14×14 maps, 4 left: conv4 28.5 → 27.3 µs; its 7×7, 1 left: 14.9 → 15.7 µs).
    /// </summary>
    private const int MaxSinglePositions = 2;

    /// <summary>
    /// The fewest quads summed in 16 bits for which <see cref="Tile16"/> runs: it widens its sums through memory, which 8-bit
    /// weights on 7-bit activations (a group of 1) made 2.6x slower than <see cref="Tile8"/>'s registers.
    /// </summary>
    private const int MinTile16Group = 4;

    /// <summary>Whether positions 8..15 from <paramref name="starts"/> lie at one distance from positions 0..7 (a tile within one output row, say).</summary>
    private static unsafe bool IsTranslate(int* starts)
    {
        int second = starts[8] - starts[0];
        for (int i = 1; i < 8; i++)
            if (starts[8 + i] - starts[i] != second) return false;
        return true;
    }


    private static ReadOnlySpan<int> SingleTap => new[] { 0 };

    // Not inlined: inside its caller the JIT's register choices for this loop cost up to 1.6x (34 -> 55 us on a 784x288x32 map).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Tile8(byte* blocks, int blockBytes, int* offsets, int taps, int quadsPerTap, int group, in Unpacker unpack, byte* x, int* starts, int* c, int ldc)
    {
        var ones = Vector512.Create((short)1);
        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<short> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        byte* x0 = x + starts[0], x1 = x + starts[1], x2 = x + starts[2], x3 = x + starts[3];
        byte* x4 = x + starts[4], x5 = x + starts[5], x6 = x + starts[6], x7 = x + starts[7];
        int pending = 0;
        for (int t = 0; t < taps; t++)
        {
            int tap = offsets[t];
            byte* bt = blocks + (long)t * quadsPerTap * blockBytes;
            for (int q = 0; q < quadsPerTap; q++)
            {
                var wv = unpack.Block(bt + (long)q * blockBytes);
                int at = tap + 4 * q;
                s0 += Pairs(x0 + at, wv);
                s1 += Pairs(x1 + at, wv);
                s2 += Pairs(x2 + at, wv);
                s3 += Pairs(x3 + at, wv);
                s4 += Pairs(x4 + at, wv);
                s5 += Pairs(x5 + at, wv);
                s6 += Pairs(x6 + at, wv);
                s7 += Pairs(x7 + at, wv);
                if (++pending == group)
                {
                    Widen(ref a0, ref s0, ones); Widen(ref a1, ref s1, ones); Widen(ref a2, ref s2, ones); Widen(ref a3, ref s3, ones);
                    Widen(ref a4, ref s4, ones); Widen(ref a5, ref s5, ones); Widen(ref a6, ref s6, ones); Widen(ref a7, ref s7, ones);
                    pending = 0;
                }
            }
        }
        Widen(ref a0, ref s0, ones); Widen(ref a1, ref s1, ones); Widen(ref a2, ref s2, ones); Widen(ref a3, ref s3, ones);
        Widen(ref a4, ref s4, ones); Widen(ref a5, ref s5, ones); Widen(ref a6, ref s6, ones); Widen(ref a7, ref s7, ones);
        GemmArguments.Store8(c, ldc, a0, a1, a2, a3, a4, a5, a6, a7);
    }

    /// <summary>
    /// Two adjacent output blocks × 8 positions: each broadcast quad feeds both blocks, and the 16 partial sums stay in
    /// 16-bit registers, widened into c (stored, then added) every <paramref name="group"/> quads and at the end, so no
    /// int32 accumulators compete for registers. 1.5× the one-block tile on VggSmall's 3×3 maps.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Tile8x2<TSlots>(byte* blocks0, byte* blocks1, int blockBytes, int* offsets, int taps, int quadsPerTap, int group, Unpacker unpack, byte* x, int* starts, int* c, int ldc)
        where TSlots : struct, ISlotBits
    {
        Vector512<short> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        Vector512<short> u0 = default, u1 = default, u2 = default, u3 = default, u4 = default, u5 = default, u6 = default, u7 = default;
        byte* x0 = x + starts[0], x1 = x + starts[1], x2 = x + starts[2], x3 = x + starts[3];
        byte* x4 = x + starts[4], x5 = x + starts[5], x6 = x + starts[6], x7 = x + starts[7];
        int pending = 0;
        bool stored = false;
        for (int t = 0; t < taps; t++)
        {
            int tap = offsets[t];
            long first = (long)t * quadsPerTap * blockBytes;
            for (int q = 0; q < quadsPerTap; q++)
            {
                long at0 = first + (long)q * blockBytes;
                var wv = unpack.Block<TSlots>(blocks0 + at0);
                var wz = unpack.Block<TSlots>(blocks1 + at0);
                int at = tap + 4 * q;
                var b = Broadcast(x0 + at); s0 += Avx512BW.MultiplyAddAdjacent(b, wv); u0 += Avx512BW.MultiplyAddAdjacent(b, wz);
                b = Broadcast(x1 + at); s1 += Avx512BW.MultiplyAddAdjacent(b, wv); u1 += Avx512BW.MultiplyAddAdjacent(b, wz);
                b = Broadcast(x2 + at); s2 += Avx512BW.MultiplyAddAdjacent(b, wv); u2 += Avx512BW.MultiplyAddAdjacent(b, wz);
                b = Broadcast(x3 + at); s3 += Avx512BW.MultiplyAddAdjacent(b, wv); u3 += Avx512BW.MultiplyAddAdjacent(b, wz);
                b = Broadcast(x4 + at); s4 += Avx512BW.MultiplyAddAdjacent(b, wv); u4 += Avx512BW.MultiplyAddAdjacent(b, wz);
                b = Broadcast(x5 + at); s5 += Avx512BW.MultiplyAddAdjacent(b, wv); u5 += Avx512BW.MultiplyAddAdjacent(b, wz);
                b = Broadcast(x6 + at); s6 += Avx512BW.MultiplyAddAdjacent(b, wv); u6 += Avx512BW.MultiplyAddAdjacent(b, wz);
                b = Broadcast(x7 + at); s7 += Avx512BW.MultiplyAddAdjacent(b, wv); u7 += Avx512BW.MultiplyAddAdjacent(b, wz);
                if (++pending == group)
                {
                    Flush16(c, ldc, 16, stored, ref s0, ref s1, ref s2, ref s3, ref s4, ref s5, ref s6, ref s7, ref u0, ref u1, ref u2, ref u3, ref u4, ref u5, ref u6, ref u7);
                    stored = true;
                    pending = 0;
                }
            }
        }
        Flush16(c, ldc, 16, stored, ref s0, ref s1, ref s2, ref s3, ref s4, ref s5, ref s6, ref s7, ref u0, ref u1, ref u2, ref u3, ref u4, ref u5, ref u6, ref u7);
    }

    /// <summary>
    /// One output block × 16 positions, for layers of a single block (ResNet20's 16-channel stage): each unpacked block
    /// feeds 16 broadcasts where <see cref="Tile8"/>'s feeds 8, and the partial sums stay in 16 bits as in <see cref="Tile8x2"/>.
    /// The last 8 positions must be the first 8 moved by one distance (<see cref="IsTranslate"/>), so that 8 row pointers
    /// serve all 16: with 16 the JIT kept 11 on the stack and reloaded each for every quad (260 against 400 GOPS apart).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Tile16<TSlots>(byte* blocks, int blockBytes, int* offsets, int taps, int quadsPerTap, int group, Unpacker unpack, byte* x, int* starts, int* c, int ldc)
        where TSlots : struct, ISlotBits
    {
        Vector512<short> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
        Vector512<short> u0 = default, u1 = default, u2 = default, u3 = default, u4 = default, u5 = default, u6 = default, u7 = default;
        byte* x0 = x + starts[0], x1 = x + starts[1], x2 = x + starts[2], x3 = x + starts[3];
        byte* x4 = x + starts[4], x5 = x + starts[5], x6 = x + starts[6], x7 = x + starts[7];
        int second = starts[8] - starts[0]; // the last 8 positions lie this far after the first 8 (IsTranslate)
        int pending = 0;
        bool stored = false;
        for (int t = 0; t < taps; t++)
        {
            int tap = offsets[t];
            byte* bt = blocks + (long)t * quadsPerTap * blockBytes;
            for (int q = 0; q < quadsPerTap; q++)
            {
                var wv = unpack.Block<TSlots>(bt + (long)q * blockBytes);
                int at = tap + 4 * q, later = at + second;
                s0 += Pairs(x0 + at, wv); s1 += Pairs(x1 + at, wv); s2 += Pairs(x2 + at, wv); s3 += Pairs(x3 + at, wv);
                s4 += Pairs(x4 + at, wv); s5 += Pairs(x5 + at, wv); s6 += Pairs(x6 + at, wv); s7 += Pairs(x7 + at, wv);
                u0 += Pairs(x0 + later, wv); u1 += Pairs(x1 + later, wv); u2 += Pairs(x2 + later, wv); u3 += Pairs(x3 + later, wv);
                u4 += Pairs(x4 + later, wv); u5 += Pairs(x5 + later, wv); u6 += Pairs(x6 + later, wv); u7 += Pairs(x7 + later, wv);
                if (++pending == group)
                {
                    Flush16(c, ldc, 8L * ldc, stored, ref s0, ref s1, ref s2, ref s3, ref s4, ref s5, ref s6, ref s7, ref u0, ref u1, ref u2, ref u3, ref u4, ref u5, ref u6, ref u7);
                    stored = true;
                    pending = 0;
                }
            }
        }
        Flush16(c, ldc, 8L * ldc, stored, ref s0, ref s1, ref s2, ref s3, ref s4, ref s5, ref s6, ref s7, ref u0, ref u1, ref u2, ref u3, ref u4, ref u5, ref u6, ref u7);
    }

    /// <summary>
    /// Widens the partial sums of two sets of 8 into c (stores them the first time, adds after) and clears them: set s at rows
    /// c + i·ldc, set u <paramref name="second"/> ints after each (the next block's outputs, or the 8 positions after).
    /// </summary>
    private static unsafe void Flush16(int* c, int ldc, long second, bool add, ref Vector512<short> s0, ref Vector512<short> s1, ref Vector512<short> s2, ref Vector512<short> s3,
        ref Vector512<short> s4, ref Vector512<short> s5, ref Vector512<short> s6, ref Vector512<short> s7, ref Vector512<short> u0, ref Vector512<short> u1,
        ref Vector512<short> u2, ref Vector512<short> u3, ref Vector512<short> u4, ref Vector512<short> u5, ref Vector512<short> u6, ref Vector512<short> u7)
    {
        int* d = c + second;
        Widen(c, add, ref s0); Widen(d, add, ref u0);
        Widen(c + ldc, add, ref s1); Widen(d + ldc, add, ref u1);
        Widen(c + 2 * ldc, add, ref s2); Widen(d + 2 * ldc, add, ref u2);
        Widen(c + 3 * ldc, add, ref s3); Widen(d + 3 * ldc, add, ref u3);
        Widen(c + 4 * ldc, add, ref s4); Widen(d + 4 * ldc, add, ref u4);
        Widen(c + 5 * ldc, add, ref s5); Widen(d + 5 * ldc, add, ref u5);
        Widen(c + 6 * ldc, add, ref s6); Widen(d + 6 * ldc, add, ref u6);
        Widen(c + 7 * ldc, add, ref s7); Widen(d + 7 * ldc, add, ref u7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Widen(int* c, bool add, ref Vector512<short> partial)
    {
        var sums = Avx512BW.MultiplyAddAdjacent(partial, Vector512.Create((short)1));
        (add ? sums + Vector512.Load(c) : sums).Store(c);
        partial = default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<byte> Broadcast(byte* x4) => Vector512.Create(*(int*)x4).AsByte();

    /// <summary>vpmaddubsw: 32 int16 pair sums of the broadcast activation quad times the block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<short> Pairs(byte* x4, Vector512<sbyte> w) =>
        Avx512BW.MultiplyAddAdjacent(Vector512.Create(*(int*)x4).AsByte(), w);

    /// <summary>Adds the 16-bit partial sums into the int32 lanes (vpmaddwd with ones) and clears them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Widen(ref Vector512<int> total, ref Vector512<short> partial, Vector512<short> ones)
    {
        total += Avx512BW.MultiplyAddAdjacent(partial, ones);
        partial = default;
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
        Avx512BW.MultiplyAddAdjacent(Pairs(x4, w), ones);

    /// <summary>The AVX-VNNI path (exact for all byte activations and weights up to 127 in magnitude).</summary>
    public static void MultiplyVnni(Int8Weights w, ReadOnlySpan<byte> x, int ldx, int positions, Span<int> c, int ldc) =>
        Strided(Path.Vnni, w, x, SingleTap, ldx, positions, c, ldc);

    /// <summary>The AVX-VNNI path over taps.</summary>
    public static void MultiplyVnni(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, int positionStride, int positions, Span<int> c, int ldc) =>
        Strided(Path.Vnni, w, x, tapOffsets, positionStride, positions, c, ldc);

    /// <summary>The AVX-VNNI path over taps with explicit position starts, for the 16-output blocks [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> + <paramref name="blocks"/>).</summary>
    public static void MultiplyVnni(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int firstBlock, int blocks)
    {
        if (!IsVnniAccelerated) throw new PlatformNotSupportedException("AVX-VNNI with AVX-512BW is not available.");
        Check(w, x, tapOffsets, positionOffsets, c, ldc, 255, firstBlock, blocks);
        Vnni(w, x, tapOffsets, positionOffsets, c, ldc, firstBlock, blocks);
    }

    /// <summary>A slot width as a type, so that a tile compiled for it has the width as a constant (no switch per block).</summary>
    private interface ISlotBits
    {
        static abstract int Bits { get; }
    }

    private struct Slots1 : ISlotBits { public static int Bits => 1; }
    private struct Slots2 : ISlotBits { public static int Bits => 2; }
    private struct Slots4 : ISlotBits { public static int Bits => 4; }
    private struct Slots8 : ISlotBits { public static int Bits => 8; }

    /// <summary>Turns a stored block into 64 sbyte weights.</summary>
    private readonly struct Unpacker
    {
        // Four fields at most, so that the JIT keeps a local copy in registers.
        private readonly int slotBits;
        private readonly Vector512<byte> table, mask;
        private readonly Vector512<ushort> wordShift;

        public Unpacker(Int8Weights w)
        {
            slotBits = w.SlotBits;
            table = Vector512.Create(Vector128.Create(w.Table.Select(v => (byte)v).ToArray()));
            mask = Vector512.Create((byte)((1 << Math.Min(slotBits, 7)) - 1));
            // 4-bit: the upper 256 bits read the high nibbles; 2-bit: lane i reads bits 2i..2i+1.
            var shifts = new ushort[32];
            for (int i = 0; i < 32; i++) shifts[i] = (ushort)(slotBits == 4 ? 4 * (i / 16) : 2 * (i / 8));
            wordShift = Vector512.Create(shifts);
        }

        public int SlotBits => slotBits;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public unsafe Vector512<sbyte> Block(byte* p) => slotBits switch
        {
            8 => Block<Slots8>(p),
            4 => Block<Slots4>(p),
            2 => Block<Slots2>(p),
            _ => Block<Slots1>(p),
        };

        /// <summary>The block for slots of <typeparamref name="TSlots"/> bits (which must be this unpacker's).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public unsafe Vector512<sbyte> Block<TSlots>(byte* p) where TSlots : struct, ISlotBits
        {
            switch (TSlots.Bits)
            {
                case 8:
                    return Vector512.Load((sbyte*)p);
                case 4:
                {
                    var v = Avx512F.BroadcastVector256ToVector512((ulong*)p).AsUInt16(); // one vbroadcasti64x4 from memory
                    return Avx512BW.Shuffle(table, Avx512BW.ShiftRightLogicalVariable(v, wordShift).AsByte() & mask).AsSByte();
                }
                case 2:
                {
                    var v = Avx512F.BroadcastVector128ToVector512((uint*)p).AsUInt16(); // one vbroadcasti32x4 from memory
                    return Avx512BW.Shuffle(table, Avx512BW.ShiftRightLogicalVariable(v, wordShift).AsByte() & mask).AsSByte();
                }
                default:
                {
                    var v = Vector512.Create(*(ulong*)p);
                    return Avx512BW.Shuffle(table, Avx512F.ShiftRightLogicalVariable(v, Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7)).AsByte() & mask).AsSByte();
                }
            }
        }
    }

    private static void Check(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        if (maxActivation is < 0 or > 255) throw new ArgumentOutOfRangeException(nameof(maxActivation), maxActivation, "Activations are bytes.");
        if (firstBlock < 0 || blocks < 0 || firstBlock + blocks > w.PaddedOutputs / 16)
            throw new ArgumentOutOfRangeException(nameof(blocks), blocks, $"Output blocks {firstBlock}..{firstBlock + blocks} lie outside the {w.PaddedOutputs / 16} blocks of the weights.");
        CheckTaps(w, tapOffsets);
        GemmArguments.CheckReads(tapOffsets, nameof(tapOffsets), positionOffsets, w.PaddedDepth / tapOffsets.Length, x.Length);
        GemmArguments.CheckOutput(w.PaddedOutputs, ldc, positionOffsets.Length, c.Length);
    }

    private static void CheckTaps(Int8Weights w, ReadOnlySpan<int> tapOffsets)
    {
        if (tapOffsets.Length == 0 || w.PaddedDepth % (4 * tapOffsets.Length) != 0 || (tapOffsets.Length > 1 && w.Depth != w.PaddedDepth))
            throw new ArgumentException($"A depth of {w.Depth} does not split into {tapOffsets.Length} taps of whole quads.", nameof(tapOffsets));
    }
}
