using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// The 128-bit quad path of <see cref="Int8Gemm"/>: the AVX2 path's byte blocks (<see cref="Int8Weights.Bytes"/>), each
/// 16-output × 4-depth block four 128-bit vectors of 4 outputs' quads, times one broadcast activation quad per position,
/// 2 positions × 16 outputs a tile (8 sums and 4 weight vectors: within the 16 registers SSE has). One tile source, two
/// ways to sum a quad: Arm64's Dot Product extension (sdot on signed bytes, so activations up to 127) adds each quad
/// straight into an int32 lane; x64 without AVX2 adds SSSE3's pmaddubsw pairs in 16-bit lanes for as many quads as cannot
/// overflow them, then widens them with pmaddwd. No Arm machine runs in this project's CI, so <see cref="DotProductQuads"/>'
/// two lines are untested there, while the tile around them runs in the no-AVX2 leg with the SSSE3 pairs.
/// </summary>
internal static partial class Int8Gemm
{
    /// <summary>Whether Arm64's Dot Product extension sums the 128-bit quad tile here.</summary>
    public static bool IsDotProductAccelerated => Dp.IsSupported;

    /// <summary>Whether SSSE3's pairs sum the 128-bit quad tile here (x64 without AVX2).</summary>
    public static bool IsQuads128Accelerated => Ssse3.IsSupported && !Avx2.IsSupported;

    /// <summary>The 128-bit quad tile with SSSE3's pairs, for the 16-output blocks [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> + <paramref name="blocks"/>).</summary>
    public static void MultiplyQuads128(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        if (!Ssse3.IsSupported) throw new PlatformNotSupportedException("SSSE3 is not available.");
        if (!PairsFit(maxActivation, w.MaxMagnitude)) throw new ArgumentOutOfRangeException(nameof(maxActivation), maxActivation, "Two products of this size would overflow 16 bits.");
        Check(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        Quads128<Ssse3Pairs>(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
    }

    /// <summary>The 128-bit quad tile with Arm64's sdot (activations up to 127), for the 16-output blocks [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> + <paramref name="blocks"/>).</summary>
    public static void MultiplyDotProduct(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        if (!Dp.IsSupported) throw new PlatformNotSupportedException("Arm64's Dot Product extension is not available.");
        if (maxActivation > sbyte.MaxValue) throw new ArgumentOutOfRangeException(nameof(maxActivation), maxActivation, "sdot multiplies signed bytes: activations up to 127.");
        Check(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
        Quads128<DotProductQuads>(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
    }

    private static void Quads128<TSums>(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
        where TSums : struct, IQuadSums128 =>
        ByteTiles<Quads128Tile<TSums>>(w, x, tapOffsets, positionOffsets, c, ldc, TSums.Group(maxActivation, w.MaxMagnitude), firstBlock, blocks);

    /// <summary>The 128-bit quad tile: 2 positions, its quads summed by <typeparamref name="TSums"/>.</summary>
    private readonly unsafe struct Quads128Tile<TSums> : IByteTile
        where TSums : struct, IQuadSums128
    {
        public static int Positions => 2;

        public static void Run(byte* block, in TileShape shape, byte* x, int* starts, int count, int* c) =>
            Tile2<TSums>(block, in shape, x + starts[0], x + starts[count - 1], count, c);
    }

    /// <summary>How the 128-bit quad tile sums an activation quad times 4 outputs' weight quads, lane by lane.</summary>
    private interface IQuadSums128
    {
        /// <summary>Quads the partial sums take before they must be widened into c.</summary>
        static abstract int Group(int maxActivation, int maxMagnitude);

        /// <summary>The partial sums plus each 32-bit lane's quad of products.</summary>
        static abstract Vector128<int> Add(Vector128<int> partial, Vector128<byte> x, Vector128<sbyte> w);

        /// <summary>The partial sums as 4 int32 output sums.</summary>
        static abstract Vector128<int> Widen(Vector128<int> partial);
    }

    /// <summary>SSSE3: pmaddubsw's pair sums added in 16-bit lanes, as many quads as cannot overflow them; pmaddwd widens them.</summary>
    private readonly struct Ssse3Pairs : IQuadSums128
    {
        public static int Group(int maxActivation, int maxMagnitude) => PairGroup(maxActivation, maxMagnitude);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> Add(Vector128<int> partial, Vector128<byte> x, Vector128<sbyte> w) => (partial.AsInt16() + Ssse3.MultiplyAddAdjacent(x, w)).AsInt32();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> Widen(Vector128<int> partial) => Sse2.MultiplyAddAdjacent(partial.AsInt16(), Vector128.Create((short)1));
    }

    /// <summary>Arm64 Dot Product: sdot adds each quad straight into its int32 lane (activations ≤ 127 read as signed bytes).</summary>
    private readonly struct DotProductQuads : IQuadSums128
    {
        public static int Group(int maxActivation, int maxMagnitude) => QuadGroup(maxActivation, maxMagnitude);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> Add(Vector128<int> partial, Vector128<byte> x, Vector128<sbyte> w) => Dp.DotProduct(partial, x.AsSByte(), w);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<int> Widen(Vector128<int> partial) => partial;
    }

    /// <summary>
    /// One block × up to 2 positions (<paramref name="count"/>; a tile of one repeats it and stores it once): each broadcast
    /// quad meets the block's four vectors.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Tile2<TSums>(byte* block, in TileShape shape, byte* x0, byte* x1, int count, int* c)
        where TSums : struct, IQuadSums128
    {
        Vector128<int> a0 = default, a1 = default, a2 = default, a3 = default, b0 = default, b1 = default, b2 = default, b3 = default;
        int pending = 0;
        bool stored = false;
        for (int t = 0; t < shape.Taps; t++)
        {
            int tap = shape.Offsets[t];
            sbyte* bt = (sbyte*)block + (long)t * shape.QuadsPerTap * ByteBlock;
            for (int q = 0; q < shape.QuadsPerTap; q++)
            {
                sbyte* wq = bt + (long)q * ByteBlock;
                var w0 = Vector128.Load(wq);
                var w1 = Vector128.Load(wq + 16);
                var w2 = Vector128.Load(wq + 32);
                var w3 = Vector128.Load(wq + 48);
                int at = tap + 4 * q;
                var xa = Vector128.Create(*(int*)(x0 + at)).AsByte();
                a0 = TSums.Add(a0, xa, w0); a1 = TSums.Add(a1, xa, w1); a2 = TSums.Add(a2, xa, w2); a3 = TSums.Add(a3, xa, w3);
                var xb = Vector128.Create(*(int*)(x1 + at)).AsByte();
                b0 = TSums.Add(b0, xb, w0); b1 = TSums.Add(b1, xb, w1); b2 = TSums.Add(b2, xb, w2); b3 = TSums.Add(b3, xb, w3);
                if (++pending < shape.Group) continue;
                Flush2<TSums>(c, shape.Ldc, count, stored, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
                stored = true;
                pending = 0;
            }
        }
        Flush2<TSums>(c, shape.Ldc, count, stored, ref a0, ref a1, ref a2, ref a3, ref b0, ref b1, ref b2, ref b3);
    }

    /// <summary>Widens the partial sums of the tile's positions into c (stores them the first time, adds after) and clears them.</summary>
    private static unsafe void Flush2<TSums>(int* c, int ldc, int count, bool add, ref Vector128<int> a0, ref Vector128<int> a1, ref Vector128<int> a2, ref Vector128<int> a3,
        ref Vector128<int> b0, ref Vector128<int> b1, ref Vector128<int> b2, ref Vector128<int> b3)
        where TSums : struct, IQuadSums128
    {
        Widen128<TSums>(c, add, ref a0); Widen128<TSums>(c + 4, add, ref a1); Widen128<TSums>(c + 8, add, ref a2); Widen128<TSums>(c + 12, add, ref a3);
        if (count < 2) return; // a tile of one: the repeated position's sums are never stored
        Widen128<TSums>(c + ldc, add, ref b0); Widen128<TSums>(c + ldc + 4, add, ref b1); Widen128<TSums>(c + ldc + 8, add, ref b2); Widen128<TSums>(c + ldc + 12, add, ref b3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Widen128<TSums>(int* c, bool add, ref Vector128<int> partial)
        where TSums : struct, IQuadSums128
    {
        var sums = TSums.Widen(partial);
        (add ? sums + Vector128.Load(c) : sums).Store(c);
        partial = default;
    }
}
