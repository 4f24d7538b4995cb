using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// An O×K matrix of 16-bit integers for <see cref="Int16Gemm"/>: blocks of 16 outputs × 2 depths (element
/// e = 2·output + depth), outputs padded to 16 and depth to 2 with zeros. Used where 8-bit operands would
/// saturate (8-bit weights, or wide activations).
/// </summary>
internal sealed class Int16Weights
{
    /// <summary>Prepares W given as integers [O·K].</summary>
    public Int16Weights(ReadOnlySpan<int> values, int outputs, int depth)
    {
        if (values.Length != outputs * depth) throw new ArgumentException($"Expected {outputs * depth} weights, got {values.Length}.", nameof(values));
        Outputs = outputs;
        Depth = depth;
        Data = new short[PaddedOutputs * PaddedDepth];
        RowSums = new int[outputs];
        for (int o = 0; o < outputs; o++)
        {
            for (int k = 0; k < depth; k++)
            {
                int v = values[o * depth + k];
                if (v is < short.MinValue or > short.MaxValue) throw new ArgumentOutOfRangeException(nameof(values), v, "Weights must fit 16 bits.");
                Data[Index(o, k)] = (short)v;
                RowSums[o] += v;
                MaxMagnitude = Math.Max(MaxMagnitude, Math.Abs(v));
            }
        }
    }

    /// <summary>
    /// The same weights with column k moved to column <paramref name="columns"/>[k] of rows <paramref name="depth"/> long, the
    /// columns between them zero: a convolution's rows read in place, with a padding element after each odd run.
    /// </summary>
    public Int16Weights WithColumnsAt(ReadOnlySpan<int> columns, int depth)
    {
        if (columns.Length != Depth) throw new ArgumentException($"Expected {Depth} columns, got {columns.Length}.", nameof(columns));
        var values = new int[Outputs * depth];
        for (int o = 0; o < Outputs; o++)
            for (int k = 0; k < Depth; k++)
            {
                if ((uint)columns[k] >= (uint)depth) throw new ArgumentOutOfRangeException(nameof(columns), columns[k], $"Columns lie in [0, {depth}).");
                values[o * depth + columns[k]] = Data[Index(o, k)];
            }
        return new Int16Weights(values, Outputs, depth);
    }

    /// <summary>Rows O.</summary>
    public int Outputs { get; }

    /// <summary>Columns K.</summary>
    public int Depth { get; }

    /// <summary>O rounded up to 16.</summary>
    public int PaddedOutputs => (Outputs + 15) & ~15;

    /// <summary>
    /// The weights as int32 for <see cref="Int16Gemm"/>'s 128-bit path, laid out on first use: per 16-output block, the block's
    /// 16 weights at each depth in turn (padded outputs and depth 0).
    /// </summary>
    public int[] Ints()
    {
        if (ints is { } laid) return laid;
        var result = new int[PaddedOutputs * PaddedDepth];
        for (int o = 0; o < Outputs; o++)
            for (int k = 0; k < Depth; k++) result[((o / 16) * PaddedDepth + k) * 16 + o % 16] = Data[Index(o, k)];
        return Interlocked.CompareExchange(ref ints, result, null) ?? result;
    }

    private int[]? ints;

    /// <summary>K rounded up to 2: the row length the activations must have.</summary>
    public int PaddedDepth => (Depth + 1) & ~1;

    /// <summary>The pair offsets of rows read as they stand: depth pair q at 2q.</summary>
    public int[] ContiguousPairs => contiguousPairs ??= Enumerable.Range(0, PaddedDepth / 2).Select(q => 2 * q).ToArray();

    private int[]? contiguousPairs;

    /// <summary>The blocks.</summary>
    public short[] Data { get; }

    /// <summary>Σ_k w[o,k] per row.</summary>
    public int[] RowSums { get; }

    /// <summary>max |w|.</summary>
    public int MaxMagnitude { get; }

    /// <summary>Position of (o, k) in <see cref="Data"/>.</summary>
    public int Index(int o, int k) => ((o / 16) * (PaddedDepth / 2) + k / 2) * 32 + 2 * (o % 16) + k % 2;
}

/// <summary>
/// C[p·ldc + o] = Σ_q Σ_j W[o, 2q + j] · X[starts[p] + pairOffsets[q] + j] for 16-bit activations: each position's depth
/// pairs read where they lie, so that a convolution over a padded plane needs no im2col rows (its kernel rows' runs, padded
/// to even lengths with zero weights, are the pairs), and rows one after another are the strided case (starts p·ldx,
/// pairs 2q apart). Exact while the int32 sums do not overflow. AVX-512BW: vpmaddwd of broadcast activation pairs with two
/// blocks of 16 outputs × 2 depths, 8 positions at a time; AVX2: one block in its two 8-output halves, 4 positions at a
/// time; without AVX2 on 128-bit vectors of .NET's cross-platform API (Int16GemmVector128.cs, Arm64's path too);
/// otherwise a portable scalar loop.
/// </summary>
internal static partial class Int16Gemm
{
    /// <summary>Whether the AVX-512 path runs on this machine.</summary>
    public static bool IsAccelerated => Avx512BW.IsSupported;

    /// <summary>Whether the AVX2 path runs on this machine (no AVX-512BW, AVX2).</summary>
    public static bool IsAvx2Accelerated => !Avx512BW.IsSupported && Avx2.IsSupported;

    /// <summary>Runs the fastest path for the machine over rows one after another, <paramref name="ldx"/> apart (position starts 0, ldx, 2·ldx, …, the weights' contiguous pairs).</summary>
    public static void Multiply(Int16Weights w, ReadOnlySpan<short> x, int ldx, int positions, Span<int> c, int ldc)
    {
        GemmArguments.CheckRows(w.PaddedDepth, ldx, positions, x.Length);
        Span<int> starts = positions <= MaxStackPositions ? stackalloc int[positions] : new int[positions];
        for (int p = 0; p < positions; p++) starts[p] = p * ldx;
        Multiply(w, x, w.ContiguousPairs, starts, c, ldc);
    }

    /// <summary>Runs the fastest path for the machine over the depth pairs at <paramref name="pairOffsets"/> from each position's start.</summary>
    public static void Multiply(Int16Weights w, ReadOnlySpan<short> x, ReadOnlySpan<int> pairOffsets, ReadOnlySpan<int> positionStarts, Span<int> c, int ldc)
    {
        Check(w, x, pairOffsets, positionStarts, c, ldc);
        if (IsAccelerated) Avx512(w, x, pairOffsets, positionStarts, c, ldc);
        else if (Avx2.IsSupported) Avx2Path(w, x, pairOffsets, positionStarts, c, ldc);
        else if (IsVector128Accelerated) Vector128Path(w, x, pairOffsets, positionStarts, c, ldc);
        else Portable(w, x, pairOffsets, positionStarts, c, ldc);
    }

    /// <summary>The AVX2 path.</summary>
    public static void MultiplyAvx2(Int16Weights w, ReadOnlySpan<short> x, ReadOnlySpan<int> pairOffsets, ReadOnlySpan<int> positionStarts, Span<int> c, int ldc)
    {
        if (!Avx2.IsSupported) throw new PlatformNotSupportedException("AVX2 is not available.");
        Check(w, x, pairOffsets, positionStarts, c, ldc);
        Avx2Path(w, x, pairOffsets, positionStarts, c, ldc);
    }

    /// <summary>The scalar path (also the fallback).</summary>
    public static void MultiplyPortable(Int16Weights w, ReadOnlySpan<short> x, ReadOnlySpan<int> pairOffsets, ReadOnlySpan<int> positionStarts, Span<int> c, int ldc)
    {
        Check(w, x, pairOffsets, positionStarts, c, ldc);
        Portable(w, x, pairOffsets, positionStarts, c, ldc);
    }

    /// <summary>The AVX-512BW path.</summary>
    public static void MultiplyAvx512(Int16Weights w, ReadOnlySpan<short> x, ReadOnlySpan<int> pairOffsets, ReadOnlySpan<int> positionStarts, Span<int> c, int ldc)
    {
        if (!Avx512BW.IsSupported) throw new PlatformNotSupportedException("AVX-512BW is not available.");
        Check(w, x, pairOffsets, positionStarts, c, ldc);
        Avx512(w, x, pairOffsets, positionStarts, c, ldc);
    }

    private const int MaxStackPositions = 1024;

    /// <summary>
    /// Two positions share each 64-bit multiply: (x_a + 2³²·x_b)·w = w·x_a + 2³²·w·x_b, so one word sums both positions'
    /// products. Its low half is position a's sum, and with that taken off, the high half is b's (exact while each fits 32
    /// bits, as every path needs). A position pair's words are packed once and then run against every output, four at a time
    /// (<see cref="PairSums"/>). A last odd position pairs with itself and is written once.
    /// </summary>
    private static unsafe void Portable(Int16Weights w, ReadOnlySpan<short> x, ReadOnlySpan<int> pairOffsets, ReadOnlySpan<int> positionStarts, Span<int> c, int ldc)
    {
        int depth = w.PaddedDepth, pairs = depth / 2, positions = positionStarts.Length;
        // Rows past 8 KB are rented, not allocated: a network's wide layer (VggSmall's fc, 1,152 deep) runs this every forward.
        long[]? rented = depth > 1024 ? System.Buffers.ArrayPool<long>.Shared.Rent(depth) : null;
        Span<long> packedRow = rented is null ? stackalloc long[depth] : rented;
        long* sums = stackalloc long[4];
        try
        {
            fixed (short* data = w.Data)
            fixed (short* xp = x)
            fixed (int* cp = c)
            fixed (int* offsets = pairOffsets)
            fixed (long* packed = packedRow)
            {
                for (int p = 0; p < positions; p += 2)
                {
                    short* xa = xp + positionStarts[p], xb = xp + positionStarts[Math.Min(p + 1, positions - 1)];
                    for (int q = 0; q < pairs; q++)
                    {
                        int k = offsets[q];
                        packed[2 * q] = xa[k] + ((long)xb[k] << 32);
                        packed[2 * q + 1] = xa[k + 1] + ((long)xb[k + 1] << 32);
                    }
                    int* ca = cp + (long)p * ldc;
                    for (int o = 0; o < w.Outputs; o += 4)
                    {
                        // Four outputs of one 16-output block: their (output, depth) pairs lie side by side in each depth pair's 32 weights.
                        PairSums(data + (long)(o / 16) * pairs * 32 + 2 * (o % 16), packed, pairs, sums);
                        for (int j = 0; j < Math.Min(4, w.Outputs - o); j++)
                        {
                            int low = (int)sums[j];
                            ca[o + j] = low;
                            if (p + 1 < positions) ca[ldc + o + j] = (int)((sums[j] - low) >> 32);
                        }
                    }
                }
            }
        }
        finally
        {
            if (rented is not null) System.Buffers.ArrayPool<long>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Four outputs' sums over every depth pair of one packed position pair, in registers (a body of its own, never inlined,
    /// so that the JIT keeps them there; summed in memory per output, the stem convolution of VggSmall ran 3× slower).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void PairSums(short* block, long* packed, int pairs, long* sums)
    {
        long s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (int q = 0; q < pairs; q++, block += 32, packed += 2)
        {
            long even = packed[0], odd = packed[1];
            s0 += even * block[0] + odd * block[1];
            s1 += even * block[2] + odd * block[3];
            s2 += even * block[4] + odd * block[5];
            s3 += even * block[6] + odd * block[7];
        }
        sums[0] = s0; sums[1] = s1; sums[2] = s2; sums[3] = s3;
    }

    private static unsafe void Avx2Path(Int16Weights w, ReadOnlySpan<short> x, ReadOnlySpan<int> pairOffsets, ReadOnlySpan<int> positionStarts, Span<int> c, int ldc)
    {
        int pairs = w.PaddedDepth / 2, positions = positionStarts.Length;
        fixed (short* wp = w.Data)
        fixed (short* xp = x)
        fixed (int* cp = c)
        fixed (int* offsets = pairOffsets)
        fixed (int* starts = positionStarts)
        {
            for (int ob = 0; ob < w.PaddedOutputs / 16; ob++)
            {
                short* blocks = wp + (long)ob * pairs * 32;
                int p = 0;
                for (; p + 4 <= positions; p += 4) Tile4Avx2(blocks, pairs, offsets, xp, starts + p, cp + (long)p * ldc + ob * 16, ldc);
                for (; p < positions; p++) RowAvx2(blocks, pairs, offsets, xp + starts[p], cp + (long)p * ldc + ob * 16);
            }
        }
    }

    // Bodies of their own with their row pointers set up front, as the AVX-512 tiles below: on ResNet20's stem shape 1.29x, on
    // VggSmall's 1.11x (measured apart, in one process, 2026-12-07).

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void RowAvx2(short* blocks, int pairs, int* offsets, short* x, int* c)
    {
        Vector256<int> lo = default, hi = default;
        for (int q = 0; q < pairs; q++)
        {
            var pair = Vector256.Create(*(int*)(x + offsets[q])).AsInt16();
            lo += Avx2.MultiplyAddAdjacent(pair, Vector256.Load(blocks + 32 * q));
            hi += Avx2.MultiplyAddAdjacent(pair, Vector256.Load(blocks + 32 * q + 16));
        }
        lo.Store(c);
        hi.Store(c + 8);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Tile4Avx2(short* blocks, int pairs, int* offsets, short* x, int* starts, int* c, int ldc)
    {
        Vector256<int> l0 = default, l1 = default, l2 = default, l3 = default, h0 = default, h1 = default, h2 = default, h3 = default;
        short* r0 = x + starts[0], r1 = x + starts[1], r2 = x + starts[2], r3 = x + starts[3];
        for (int* end = offsets + pairs; offsets < end; offsets++, blocks += 32)
        {
            int k = *offsets;
            var lo = Vector256.Load(blocks);
            var hi = Vector256.Load(blocks + 16);
            var x0 = Vector256.Create(*(int*)(r0 + k)).AsInt16();
            var x1 = Vector256.Create(*(int*)(r1 + k)).AsInt16();
            var x2 = Vector256.Create(*(int*)(r2 + k)).AsInt16();
            var x3 = Vector256.Create(*(int*)(r3 + k)).AsInt16();
            l0 += Avx2.MultiplyAddAdjacent(x0, lo);
            h0 += Avx2.MultiplyAddAdjacent(x0, hi);
            l1 += Avx2.MultiplyAddAdjacent(x1, lo);
            h1 += Avx2.MultiplyAddAdjacent(x1, hi);
            l2 += Avx2.MultiplyAddAdjacent(x2, lo);
            h2 += Avx2.MultiplyAddAdjacent(x2, hi);
            l3 += Avx2.MultiplyAddAdjacent(x3, lo);
            h3 += Avx2.MultiplyAddAdjacent(x3, hi);
        }
        l0.Store(c); h0.Store(c + 8);
        l1.Store(c + ldc); h1.Store(c + ldc + 8);
        l2.Store(c + 2 * ldc); h2.Store(c + 2 * ldc + 8);
        l3.Store(c + 3 * ldc); h3.Store(c + 3 * ldc + 8);
    }

    private static unsafe void Avx512(Int16Weights w, ReadOnlySpan<short> x, ReadOnlySpan<int> pairOffsets, ReadOnlySpan<int> positionStarts, Span<int> c, int ldc)
    {
        int pairs = w.PaddedDepth / 2, blocks = w.PaddedOutputs / 16, positions = positionStarts.Length;
        long blockShorts = (long)pairs * 32;
        fixed (short* wp = w.Data)
        fixed (short* xp = x)
        fixed (int* cp = c)
        fixed (int* offsets = pairOffsets)
        fixed (int* starts = positionStarts)
        {
            // Two blocks at a time where there are two: each broadcast pair feeds both (ResNet18's stem 1.56x, VggSmall's 1.26x
            // against one block, measured apart in one process, 2026-12-07).
            for (int ob = 0; ob < blocks; ob += 2)
            {
                short* block = wp + ob * blockShorts;
                bool two = ob + 1 < blocks;
                int p = 0;
                for (; p + 8 <= positions; p += 8)
                {
                    int* cr = cp + (long)p * ldc + ob * 16;
                    if (two) Tile8x2(block, blockShorts, pairs, offsets, xp, starts + p, cr, ldc);
                    else Tile8(block, pairs, offsets, xp, starts + p, cr, ldc);
                }
                for (; p < positions; p++)
                {
                    Row(block, pairs, offsets, xp + starts[p], cp + (long)p * ldc + ob * 16);
                    if (two) Row(block + blockShorts, pairs, offsets, xp + starts[p], cp + (long)p * ldc + ob * 16 + 16);
                }
            }
        }
    }

    // The tiles are bodies of their own with their row pointers set up front: inlined into a convolution step's loop, the
    // JIT spilled ldx and rebuilt every row's address each depth pair (ResNet18's stem ran at 243 GOPS, 355 apart).

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Row(short* block, int pairs, int* offsets, short* x, int* c)
    {
        Vector512<int> acc = default;
        for (int q = 0; q < pairs; q++) acc += Dot(x + offsets[q], Vector512.Load(block + 32 * q));
        acc.Store(c);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Tile8(short* block, int pairs, int* offsets, short* x, int* starts, int* c, int ldc)
    {
        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        short* x0 = x + starts[0], x1 = x + starts[1], x2 = x + starts[2], x3 = x + starts[3];
        short* x4 = x + starts[4], x5 = x + starts[5], x6 = x + starts[6], x7 = x + starts[7];
        for (int* end = offsets + pairs; offsets < end; offsets++, block += 32)
        {
            int k = *offsets;
            var wv = Vector512.Load(block);
            a0 += Dot(x0 + k, wv); a1 += Dot(x1 + k, wv); a2 += Dot(x2 + k, wv); a3 += Dot(x3 + k, wv);
            a4 += Dot(x4 + k, wv); a5 += Dot(x5 + k, wv); a6 += Dot(x6 + k, wv); a7 += Dot(x7 + k, wv);
        }
        GemmArguments.Store8(c, ldc, a0, a1, a2, a3, a4, a5, a6, a7);
    }

    /// <summary>Blocks at <paramref name="block"/> and <paramref name="block"/> + <paramref name="blockShorts"/> × 8 positions: 16 accumulators, one broadcast for both.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Tile8x2(short* block, long blockShorts, int pairs, int* offsets, short* x, int* starts, int* c, int ldc)
    {
        Vector512<int> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<int> b0 = default, b1 = default, b2 = default, b3 = default, b4 = default, b5 = default, b6 = default, b7 = default;
        short* x0 = x + starts[0], x1 = x + starts[1], x2 = x + starts[2], x3 = x + starts[3];
        short* x4 = x + starts[4], x5 = x + starts[5], x6 = x + starts[6], x7 = x + starts[7];
        for (int* end = offsets + pairs; offsets < end; offsets++, block += 32)
        {
            int k = *offsets;
            var wa = Vector512.Load(block);
            var wb = Vector512.Load(block + blockShorts);
            var v = Pair(x0 + k); a0 += Avx512BW.MultiplyAddAdjacent(v, wa); b0 += Avx512BW.MultiplyAddAdjacent(v, wb);
            v = Pair(x1 + k); a1 += Avx512BW.MultiplyAddAdjacent(v, wa); b1 += Avx512BW.MultiplyAddAdjacent(v, wb);
            v = Pair(x2 + k); a2 += Avx512BW.MultiplyAddAdjacent(v, wa); b2 += Avx512BW.MultiplyAddAdjacent(v, wb);
            v = Pair(x3 + k); a3 += Avx512BW.MultiplyAddAdjacent(v, wa); b3 += Avx512BW.MultiplyAddAdjacent(v, wb);
            v = Pair(x4 + k); a4 += Avx512BW.MultiplyAddAdjacent(v, wa); b4 += Avx512BW.MultiplyAddAdjacent(v, wb);
            v = Pair(x5 + k); a5 += Avx512BW.MultiplyAddAdjacent(v, wa); b5 += Avx512BW.MultiplyAddAdjacent(v, wb);
            v = Pair(x6 + k); a6 += Avx512BW.MultiplyAddAdjacent(v, wa); b6 += Avx512BW.MultiplyAddAdjacent(v, wb);
            v = Pair(x7 + k); a7 += Avx512BW.MultiplyAddAdjacent(v, wa); b7 += Avx512BW.MultiplyAddAdjacent(v, wb);
        }
        GemmArguments.Store8(c, ldc, a0, a1, a2, a3, a4, a5, a6, a7);
        GemmArguments.Store8(c + 16, ldc, b0, b1, b2, b3, b4, b5, b6, b7);
    }

    /// <summary>The activation pair at <paramref name="x2"/> in every 32-bit lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<short> Pair(short* x2) => Vector512.Create(*(int*)x2).AsInt16();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe Vector512<int> Dot(short* x2, Vector512<short> w) => Avx512BW.MultiplyAddAdjacent(Pair(x2), w);

    private static void Check(Int16Weights w, ReadOnlySpan<short> x, ReadOnlySpan<int> pairOffsets, ReadOnlySpan<int> positionStarts, Span<int> c, int ldc)
    {
        if (pairOffsets.Length != w.PaddedDepth / 2) throw new ArgumentException($"A depth of {w.PaddedDepth} takes {w.PaddedDepth / 2} pair offsets, not {pairOffsets.Length}.", nameof(pairOffsets));
        GemmArguments.CheckReads(pairOffsets, nameof(pairOffsets), positionStarts, 2, x.Length);
        GemmArguments.CheckOutput(w.PaddedOutputs, ldc, positionStarts.Length, c.Length);
    }
}
