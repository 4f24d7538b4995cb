using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// The AVX2 path of <see cref="Int8Gemm"/>, for CPUs without AVX-512BW (Intel client chips from Alder Lake on, AVX2-only
/// cloud VMs): the same blocks as bytes (<see cref="Int8Weights.Bytes"/>), multiplied in two 256-bit halves (outputs 0–7 and 8–15 of a block), 4
/// positions × 16 outputs per tile. One tile source, two ways to sum a quad (<see cref="IQuadSums"/>): on AVX2 alone,
/// vpmaddubsw sums kept in 16 bits as long as they provably fit and widened by vpmaddwd into c (exact under the same bound
/// as the AVX-512 path, 2·max X·max|W| ≤ 32767); with AVX-VNNI (Alder Lake, Zen 5), vpdpbusd sums each quad straight into
/// int32 lanes. The VNNI form differs from the AVX2 one only in <see cref="VnniQuads"/>' two lines, which the kernel tests run
/// wherever the host has AVX-VNNI (the Zen 5 host of 2026-12-05 had it: breaking them failed 27 kernel tests, 51 without
/// AVX-512); on the Zen 4 hosts before, only the tile around them ran.
/// </summary>
internal static partial class Int8Gemm
{
    /// <summary>Whether the AVX2 path can run on this machine.</summary>
    public static bool IsAvx2Accelerated => Avx2.IsSupported;

    /// <summary>Whether the AVX2 path sums its quads with AVX-VNNI's vpdpbusd here.</summary>
    public static bool IsAvx2VnniAccelerated => Avx2.IsSupported && AvxVnni.IsSupported;

    /// <summary>The AVX2 path (activations up to <paramref name="maxActivation"/>).</summary>
    public static void MultiplyAvx2(Int8Weights w, ReadOnlySpan<byte> x, int ldx, int positions, Span<int> c, int ldc, int maxActivation = 255) =>
        Strided(Path.Avx2, w, x, SingleTap, ldx, positions, c, ldc, maxActivation);

    /// <summary>The AVX2 path over taps (activations up to <paramref name="maxActivation"/>).</summary>
    public static void MultiplyAvx2(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, int positionStride, int positions, Span<int> c, int ldc, int maxActivation = 255) =>
        Strided(Path.Avx2, w, x, tapOffsets, positionStride, positions, c, ldc, maxActivation);

    /// <summary>The AVX2 path over taps with explicit position starts, for the 16-output blocks [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> + <paramref name="blocks"/>).</summary>
    public static void MultiplyAvx2(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        if (!Avx2.IsSupported) throw new PlatformNotSupportedException("AVX2 is not available.");
        Check(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        if (!PairsFit(maxActivation, w.MaxMagnitude))
            throw new ArgumentOutOfRangeException(nameof(maxActivation), maxActivation, $"Activations up to {maxActivation} on weights up to {w.MaxMagnitude} would saturate vpmaddubsw's pair sums.");
        Avx2Tiles<PairSums>(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
    }

    /// <summary>The AVX2 tiles with AVX-VNNI's quad sums, for the 16-output blocks [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> + <paramref name="blocks"/>).</summary>
    public static void MultiplyAvx2Vnni(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        if (!IsAvx2VnniAccelerated) throw new PlatformNotSupportedException("AVX2 with AVX-VNNI is not available.");
        Check(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        Avx2Tiles<VnniQuads>(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
    }

    /// <summary>The AVX2 tiles, their quads summed by AVX-VNNI where it runs, else by vpmaddubsw pairs (which must then fit, <see cref="PairsFit"/>).</summary>
    private static void Avx2Tiles(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        if (IsAvx2VnniAccelerated) Avx2Tiles<VnniQuads>(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        else Avx2Tiles<PairSums>(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
    }

    private static void Avx2Tiles<TSums>(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
        where TSums : struct, IQuadSums
    {
        int group = TSums.Group(maxActivation, w.MaxMagnitude);
        if (positionOffsets.Length == 1 && tapOffsets.Length == 1) Avx2Row<TSums>(w, x[(positionOffsets[0] + tapOffsets[0])..], c, group, firstBlock, blocks);
        else ByteTiles<Avx2Tile<TSums>>(w, x, tapOffsets, positionOffsets, c, ldc, group, firstBlock, blocks);
    }

    /// <summary>
    /// One activation row (a GEMV: an LSTM step's recurrent product at batch 1, a linear layer) for the 16-output blocks
    /// [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> + <paramref name="blocks"/>), four blocks at a time, where
    /// the 4-position tile would repeat the row and waste three of every four multiplies.
    /// </summary>
    private static unsafe void Avx2Row<TSums>(Int8Weights w, ReadOnlySpan<byte> x, Span<int> c, int group, int firstBlock, int blocks)
        where TSums : struct, IQuadSums
    {
        int quads = w.PaddedDepth / 4;
        long stride = (long)quads * ByteBlock;
        fixed (byte* wp = w.Bytes())
        fixed (byte* xp = x)
        fixed (int* cp = c)
            for (int ob = firstBlock; ob < firstBlock + blocks; ob += 4)
                Avx2Row4<TSums>(wp + ob * stride, stride, quads, group, xp, Math.Min(4, firstBlock + blocks - ob), cp + ob * 16);
    }

    /// <summary>
    /// Up to 4 output blocks (<paramref name="count"/>; fewer repeat the last and store only their own) of one row: each broadcast
    /// quad meets both halves of every block, 8 partial-sum registers as in <see cref="Tile4{TSums}"/>, whose flush writes
    /// block j where position j would be (16 ints on).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Avx2Row4<TSums>(byte* blocks, long stride, int quads, int group, byte* x, int count, int* c)
        where TSums : struct, IQuadSums
    {
        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, u0 = default, u1 = default, u2 = default, u3 = default;
        sbyte* w0 = (sbyte*)blocks, w1 = w0 + stride * Math.Min(1, count - 1), w2 = w0 + stride * Math.Min(2, count - 1), w3 = w0 + stride * Math.Min(3, count - 1);
        int pending = 0;
        bool stored = false;
        for (int q = 0; q < quads; q++)
        {
            var b = Vector256.Create(*(int*)(x + 4 * q)).AsByte();
            long at = (long)q * ByteBlock;
            s0 = TSums.Add(s0, b, Vector256.Load(w0 + at)); u0 = TSums.Add(u0, b, Vector256.Load(w0 + at + 32));
            s1 = TSums.Add(s1, b, Vector256.Load(w1 + at)); u1 = TSums.Add(u1, b, Vector256.Load(w1 + at + 32));
            s2 = TSums.Add(s2, b, Vector256.Load(w2 + at)); u2 = TSums.Add(u2, b, Vector256.Load(w2 + at + 32));
            s3 = TSums.Add(s3, b, Vector256.Load(w3 + at)); u3 = TSums.Add(u3, b, Vector256.Load(w3 + at + 32));
            if (++pending == group)
            {
                Flush4<TSums>(c, 16, count, stored, ref s0, ref s1, ref s2, ref s3, ref u0, ref u1, ref u2, ref u3);
                stored = true;
                pending = 0;
            }
        }
        Flush4<TSums>(c, 16, count, stored, ref s0, ref s1, ref s2, ref s3, ref u0, ref u1, ref u2, ref u3);
    }

    /// <summary>
    /// The byte-block paths' driver: every 16-output block of the range against the positions, <typeparamref name="TTile"/>'s
    /// count of them a tile, each tile's partial sums widened every <paramref name="group"/> quads.
    /// </summary>
    private static unsafe void ByteTiles<TTile>(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int group, int firstBlock, int blocks)
        where TTile : struct, IByteTile
    {
        // Unpacking 1-4-bit codes in registers would take 8 of a quad's 28 instructions in the AVX2 tile (4 positions share it,
        // where the 512-bit path's 8 do), so these paths read the weights as bytes, laid out once: 20 % faster on VggSmall W2A2.
        int taps = tapOffsets.Length, quadsPerTap = w.PaddedDepth / 4 / taps, positions = positionOffsets.Length;
        fixed (byte* wp = w.Bytes())
        fixed (byte* xp = x)
        fixed (int* cp = c)
        fixed (int* offsets = tapOffsets)
        fixed (int* starts = positionOffsets)
        {
            long stride = (long)taps * quadsPerTap * ByteBlock;
            var shape = new TileShape(offsets, taps, quadsPerTap, group, ldc);
            for (int ob = firstBlock; ob < firstBlock + blocks; ob++)
                for (int p = 0; p < positions; p += TTile.Positions)
                    TTile.Run(wp + ob * stride, in shape, xp, starts + p, Math.Min(TTile.Positions, positions - p), cp + (long)p * ldc + ob * 16);
        }
    }

    /// <summary>One tile of a byte-block path: up to <see cref="Positions"/> positions × one 16-output block.</summary>
    private unsafe interface IByteTile
    {
        /// <summary>Positions a tile.</summary>
        static abstract int Positions { get; }

        /// <summary>The block at <paramref name="block"/> times <paramref name="count"/> positions (starts at <paramref name="starts"/>) into c.</summary>
        static abstract void Run(byte* block, in TileShape shape, byte* x, int* starts, int count, int* c);
    }

    /// <summary>The AVX2 tile: 4 positions, its quads summed by <typeparamref name="TSums"/>.</summary>
    private readonly unsafe struct Avx2Tile<TSums> : IByteTile
        where TSums : struct, IQuadSums
    {
        public static int Positions => 4;

        public static void Run(byte* block, in TileShape shape, byte* x, int* starts, int count, int* c) => Tile4<TSums>(block, in shape, x, starts, count, c);
    }

    /// <summary>Bytes of a 16-output × 4-depth block as one sbyte each (<see cref="Int8Weights.Bytes"/>, or the data of 8-bit slots).</summary>
    private const int ByteBlock = 64;

    /// <summary>What every tile of one product shares.</summary>
    private readonly unsafe struct TileShape(int* offsets, int taps, int quadsPerTap, int group, int ldc)
    {
        public readonly int Taps = taps, QuadsPerTap = quadsPerTap, Group = group, Ldc = ldc;
        public readonly int* Offsets = offsets;
    }

    /// <summary>How the 256-bit tile sums an activation quad times a half block's weight quads, lane by lane.</summary>
    private interface IQuadSums
    {
        /// <summary>Quads the partial sums take before they must be widened into c.</summary>
        static abstract int Group(int maxActivation, int maxMagnitude);

        /// <summary>The partial sums plus each 32-bit lane's quad of products.</summary>
        static abstract Vector256<int> Add(Vector256<int> partial, Vector256<byte> x, Vector256<sbyte> w);

        /// <summary>The partial sums as 8 int32 output sums.</summary>
        static abstract Vector256<int> Widen(Vector256<int> partial);
    }

    /// <summary>AVX2: vpmaddubsw's pair sums added in 16-bit lanes, as many quads as cannot overflow them; vpmaddwd widens them.</summary>
    private readonly struct PairSums : IQuadSums
    {
        public static int Group(int maxActivation, int maxMagnitude) => PairGroup(maxActivation, maxMagnitude);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Add(Vector256<int> partial, Vector256<byte> x, Vector256<sbyte> w) => (partial.AsInt16() + Avx2.MultiplyAddAdjacent(x, w)).AsInt32();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Widen(Vector256<int> partial) => Avx2.MultiplyAddAdjacent(partial.AsInt16(), Vector256.Create((short)1));
    }

    /// <summary>AVX-VNNI: vpdpbusd adds each quad straight into its int32 lane, which takes thousands of quads.</summary>
    private readonly struct VnniQuads : IQuadSums
    {
        public static int Group(int maxActivation, int maxMagnitude) => QuadGroup(maxActivation, maxMagnitude);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Add(Vector256<int> partial, Vector256<byte> x, Vector256<sbyte> w) => AvxVnni.MultiplyWideningAndAdd(partial, x, w);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<int> Widen(Vector256<int> partial) => partial;
    }

    /// <summary>
    /// One block × up to 4 positions (<paramref name="count"/>; a shorter tile repeats its last position and stores only
    /// its own): each broadcast quad meets both halves of the block, 8 partial-sum registers in all.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Tile4<TSums>(byte* block, in TileShape shape, byte* x, int* starts, int count, int* c)
        where TSums : struct, IQuadSums
    {
        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default, u0 = default, u1 = default, u2 = default, u3 = default;
        byte* x0 = x + starts[0], x1 = x + starts[Math.Min(1, count - 1)], x2 = x + starts[Math.Min(2, count - 1)], x3 = x + starts[Math.Min(3, count - 1)];
        int pending = 0;
        bool stored = false;
        for (int t = 0; t < shape.Taps; t++)
        {
            int tap = shape.Offsets[t];
            byte* bt = block + (long)t * shape.QuadsPerTap * ByteBlock;
            for (int q = 0; q < shape.QuadsPerTap; q++)
            {
                var low = Vector256.Load((sbyte*)bt + (long)q * ByteBlock);
                var high = Vector256.Load((sbyte*)bt + (long)q * ByteBlock + 32);
                int at = tap + 4 * q;
                var b = Vector256.Create(*(int*)(x0 + at)).AsByte(); s0 = TSums.Add(s0, b, low); u0 = TSums.Add(u0, b, high);
                b = Vector256.Create(*(int*)(x1 + at)).AsByte(); s1 = TSums.Add(s1, b, low); u1 = TSums.Add(u1, b, high);
                b = Vector256.Create(*(int*)(x2 + at)).AsByte(); s2 = TSums.Add(s2, b, low); u2 = TSums.Add(u2, b, high);
                b = Vector256.Create(*(int*)(x3 + at)).AsByte(); s3 = TSums.Add(s3, b, low); u3 = TSums.Add(u3, b, high);
                if (++pending == shape.Group)
                {
                    Flush4<TSums>(c, shape.Ldc, count, stored, ref s0, ref s1, ref s2, ref s3, ref u0, ref u1, ref u2, ref u3);
                    stored = true;
                    pending = 0;
                }
            }
        }
        Flush4<TSums>(c, shape.Ldc, count, stored, ref s0, ref s1, ref s2, ref s3, ref u0, ref u1, ref u2, ref u3);
    }

    /// <summary>Widens the partial sums of the tile's positions into c (stores them the first time, adds after) and clears them.</summary>
    private static unsafe void Flush4<TSums>(int* c, int ldc, int count, bool add, ref Vector256<int> s0, ref Vector256<int> s1, ref Vector256<int> s2, ref Vector256<int> s3,
        ref Vector256<int> u0, ref Vector256<int> u1, ref Vector256<int> u2, ref Vector256<int> u3)
        where TSums : struct, IQuadSums
    {
        Widen<TSums>(c, add, ref s0); Widen<TSums>(c + 8, add, ref u0);
        if (count > 1) { Widen<TSums>(c + ldc, add, ref s1); Widen<TSums>(c + ldc + 8, add, ref u1); }
        if (count > 2) { Widen<TSums>(c + 2 * ldc, add, ref s2); Widen<TSums>(c + 2 * ldc + 8, add, ref u2); }
        if (count > 3) { Widen<TSums>(c + 3 * ldc, add, ref s3); Widen<TSums>(c + 3 * ldc + 8, add, ref u3); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Widen<TSums>(int* c, bool add, ref Vector256<int> partial)
        where TSums : struct, IQuadSums
    {
        var sums = TSums.Widen(partial);
        (add ? sums + Vector256.Load(c) : sums).Store(c);
        partial = default;
    }
}
