using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// The AVX2 path of <see cref="Int8Gemm"/>, for CPUs without AVX-512BW (Intel client chips from Alder Lake on, AVX2-only
/// cloud VMs): the same blocks as bytes (<see cref="Int8Weights.Bytes"/>), multiplied in two 256-bit halves (outputs 0–7 and 8–15 of a block), 4
/// positions × 16 outputs per tile, vpmaddubsw sums kept in 16 bits as long as they provably fit and widened by vpmaddwd
/// into c. Exact under the same bound as the AVX-512 path (2·max X·max|W| ≤ 32767).
/// </summary>
internal static partial class Int8Gemm
{
    /// <summary>Whether the AVX2 path can run on this machine.</summary>
    public static bool IsAvx2Accelerated => Avx2.IsSupported;

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
        Avx2Tiles(w, x, tapOffsets, positionOffsets, c, ldc, maxActivation, firstBlock, blocks);
    }

    private static unsafe void Avx2Tiles(Int8Weights w, ReadOnlySpan<byte> x, ReadOnlySpan<int> tapOffsets, ReadOnlySpan<int> positionOffsets, Span<int> c, int ldc, int maxActivation, int firstBlock, int blocks)
    {
        int group = (int)Math.Clamp(short.MaxValue / (2L * Math.Max(1, maxActivation) * Math.Max(1, w.MaxMagnitude)), 1, int.MaxValue);
        // Unpacking 1-4-bit codes in registers would take 8 of a quad's 28 instructions here (a 4-position tile shares it, where
        // the 512-bit path's 8 positions do), so this path reads the weights as bytes, laid out once: 20 % faster on VggSmall W2A2.
        int taps = tapOffsets.Length, quadsPerTap = w.PaddedDepth / 4 / taps, positions = positionOffsets.Length;
        fixed (byte* wp = w.SlotBits == 8 ? w.Data : w.Bytes())
        fixed (byte* xp = x)
        fixed (int* cp = c)
        fixed (int* offsets = tapOffsets)
        fixed (int* starts = positionOffsets)
        {
            long stride = (long)taps * quadsPerTap * ByteBlock;
            var shape = new TileShape(offsets, taps, quadsPerTap, group, ldc);
            for (int ob = firstBlock; ob < firstBlock + blocks; ob++)
            {
                byte* block = wp + ob * stride;
                int p = 0;
                for (; p + 4 <= positions; p += 4) Tile4(block, in shape, xp, starts + p, 4, cp + (long)p * ldc + ob * 16);
                if (p < positions) Tile4(block, in shape, xp, starts + p, positions - p, cp + (long)p * ldc + ob * 16);
            }
        }
    }

    /// <summary>Bytes of a 16-output × 4-depth block as one sbyte each (<see cref="Int8Weights.Bytes"/>, or the data of 8-bit slots).</summary>
    private const int ByteBlock = 64;

    /// <summary>What every tile of one product shares.</summary>
    private readonly unsafe struct TileShape(int* offsets, int taps, int quadsPerTap, int group, int ldc)
    {
        public readonly int Taps = taps, QuadsPerTap = quadsPerTap, Group = group, Ldc = ldc;
        public readonly int* Offsets = offsets;
    }

    /// <summary>
    /// One block × up to 4 positions (<paramref name="count"/>; a shorter tile repeats its last position and stores only
    /// its own): each broadcast quad meets both halves of the block, 8 partial-sum registers in all.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void Tile4(byte* block, in TileShape shape, byte* x, int* starts, int count, int* c)
    {
        Vector256<short> s0 = default, s1 = default, s2 = default, s3 = default, u0 = default, u1 = default, u2 = default, u3 = default;
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
                var b = Vector256.Create(*(int*)(x0 + at)).AsByte(); s0 += Avx2.MultiplyAddAdjacent(b, low); u0 += Avx2.MultiplyAddAdjacent(b, high);
                b = Vector256.Create(*(int*)(x1 + at)).AsByte(); s1 += Avx2.MultiplyAddAdjacent(b, low); u1 += Avx2.MultiplyAddAdjacent(b, high);
                b = Vector256.Create(*(int*)(x2 + at)).AsByte(); s2 += Avx2.MultiplyAddAdjacent(b, low); u2 += Avx2.MultiplyAddAdjacent(b, high);
                b = Vector256.Create(*(int*)(x3 + at)).AsByte(); s3 += Avx2.MultiplyAddAdjacent(b, low); u3 += Avx2.MultiplyAddAdjacent(b, high);
                if (++pending == shape.Group)
                {
                    Flush4(c, shape.Ldc, count, stored, ref s0, ref s1, ref s2, ref s3, ref u0, ref u1, ref u2, ref u3);
                    stored = true;
                    pending = 0;
                }
            }
        }
        Flush4(c, shape.Ldc, count, stored, ref s0, ref s1, ref s2, ref s3, ref u0, ref u1, ref u2, ref u3);
    }

    /// <summary>Widens the partial sums of the tile's positions into c (stores them the first time, adds after) and clears them.</summary>
    private static unsafe void Flush4(int* c, int ldc, int count, bool add, ref Vector256<short> s0, ref Vector256<short> s1, ref Vector256<short> s2, ref Vector256<short> s3,
        ref Vector256<short> u0, ref Vector256<short> u1, ref Vector256<short> u2, ref Vector256<short> u3)
    {
        Widen(c, add, ref s0); Widen(c + 8, add, ref u0);
        if (count > 1) { Widen(c + ldc, add, ref s1); Widen(c + ldc + 8, add, ref u1); }
        if (count > 2) { Widen(c + 2 * ldc, add, ref s2); Widen(c + 2 * ldc + 8, add, ref u2); }
        if (count > 3) { Widen(c + 3 * ldc, add, ref s3); Widen(c + 3 * ldc + 8, add, ref u3); }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Widen(int* c, bool add, ref Vector256<short> partial)
    {
        var sums = Avx2.MultiplyAddAdjacent(partial, Vector256.Create((short)1));
        (add ? sums + Vector256.Load(c) : sums).Store(c);
        partial = default;
    }
}
