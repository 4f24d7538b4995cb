using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Runtime;

/// <summary>
/// Square float tiles transposed in registers: between position-major accumulator rows and channel-major maps (the float
/// epilogue of <see cref="DenseProduct"/>, the residual epilogue of <see cref="ActivationEpilogue"/>).
/// </summary>
internal static class FloatTranspose
{
    /// <summary>
    /// Transposes 8 rows of 8 floats in place: interleaves of row pairs, then of their 64-bit pairs, within each 128-bit half
    /// (columns c and c + 4 of four rows), then the halves of rows i and i + 4 joined. In locals, which stay in registers
    /// (through a span, each step stored and reloaded its rows: the tiles took 0.5 ns a value).
    /// </summary>
    public static unsafe void Transpose8(Vector256<float>* rows)
    {
        // Rows 2i, 2i+1 interleaved: columns 0, 1 | 4, 5 (low) and 2, 3 | 6, 7 (high).
        var p0 = Avx.UnpackLow(rows[0], rows[1]); var p1 = Avx.UnpackHigh(rows[0], rows[1]);
        var p2 = Avx.UnpackLow(rows[2], rows[3]); var p3 = Avx.UnpackHigh(rows[2], rows[3]);
        var p4 = Avx.UnpackLow(rows[4], rows[5]); var p5 = Avx.UnpackHigh(rows[4], rows[5]);
        var p6 = Avx.UnpackLow(rows[6], rows[7]); var p7 = Avx.UnpackHigh(rows[6], rows[7]);
        // Rows 4h to 4h + 3: columns 0 | 4, 1 | 5, 2 | 6, 3 | 7.
        var q0 = Avx.Shuffle(p0, p2, 0x44); var q1 = Avx.Shuffle(p0, p2, 0xEE); var q2 = Avx.Shuffle(p1, p3, 0x44); var q3 = Avx.Shuffle(p1, p3, 0xEE);
        var q4 = Avx.Shuffle(p4, p6, 0x44); var q5 = Avx.Shuffle(p4, p6, 0xEE); var q6 = Avx.Shuffle(p5, p7, 0x44); var q7 = Avx.Shuffle(p5, p7, 0xEE);
        rows[0] = Avx.Permute2x128(q0, q4, 0x20); rows[4] = Avx.Permute2x128(q0, q4, 0x31);
        rows[1] = Avx.Permute2x128(q1, q5, 0x20); rows[5] = Avx.Permute2x128(q1, q5, 0x31);
        rows[2] = Avx.Permute2x128(q2, q6, 0x20); rows[6] = Avx.Permute2x128(q2, q6, 0x31);
        rows[3] = Avx.Permute2x128(q3, q7, 0x20); rows[7] = Avx.Permute2x128(q3, q7, 0x31);
    }

    // Lane j of the low half of a swap at distance b: its own lane where bit b of j is clear, else lane j − b of the partner
    // row (indices from 16 select the second operand); the high half: lane j + b of its own row, or its partner's lane j.
    private static readonly Vector512<int>[] SwapLow = new[] { 1, 2, 4, 8 }.Select(b => Vector512.Create(Enumerable.Range(0, 16).Select(j => (j & b) == 0 ? j : 16 + j - b).ToArray())).ToArray();
    private static readonly Vector512<int>[] SwapHigh = new[] { 1, 2, 4, 8 }.Select(b => Vector512.Create(Enumerable.Range(0, 16).Select(j => (j & b) == 0 ? j + b : 16 + j).ToArray())).ToArray();

    /// <summary>
    /// Transposes 16 rows of 16 floats in place: at each distance b = 1, 2, 4, 8 the off-diagonal b×b blocks of every
    /// 2b×2b block swap (two two-source permutes per pair of rows), which swaps bit b of the row and column wherever they
    /// differ. The rows stay in locals, held in registers (see <see cref="Transpose8"/>).
    /// </summary>
    public static unsafe void Transpose16(Vector512<float>* rows)
    {
        var (r0, r1, r2, r3, r4, r5, r6, r7) = (rows[0], rows[1], rows[2], rows[3], rows[4], rows[5], rows[6], rows[7]);
        var (r8, r9, r10, r11, r12, r13, r14, r15) = (rows[8], rows[9], rows[10], rows[11], rows[12], rows[13], rows[14], rows[15]);
        var (low, high) = (SwapLow[0], SwapHigh[0]);
        Swap(ref r0, ref r1, low, high); Swap(ref r2, ref r3, low, high); Swap(ref r4, ref r5, low, high); Swap(ref r6, ref r7, low, high);
        Swap(ref r8, ref r9, low, high); Swap(ref r10, ref r11, low, high); Swap(ref r12, ref r13, low, high); Swap(ref r14, ref r15, low, high);
        (low, high) = (SwapLow[1], SwapHigh[1]);
        Swap(ref r0, ref r2, low, high); Swap(ref r1, ref r3, low, high); Swap(ref r4, ref r6, low, high); Swap(ref r5, ref r7, low, high);
        Swap(ref r8, ref r10, low, high); Swap(ref r9, ref r11, low, high); Swap(ref r12, ref r14, low, high); Swap(ref r13, ref r15, low, high);
        (low, high) = (SwapLow[2], SwapHigh[2]);
        Swap(ref r0, ref r4, low, high); Swap(ref r1, ref r5, low, high); Swap(ref r2, ref r6, low, high); Swap(ref r3, ref r7, low, high);
        Swap(ref r8, ref r12, low, high); Swap(ref r9, ref r13, low, high); Swap(ref r10, ref r14, low, high); Swap(ref r11, ref r15, low, high);
        (low, high) = (SwapLow[3], SwapHigh[3]);
        Swap(ref r0, ref r8, low, high); Swap(ref r1, ref r9, low, high); Swap(ref r2, ref r10, low, high); Swap(ref r3, ref r11, low, high);
        Swap(ref r4, ref r12, low, high); Swap(ref r5, ref r13, low, high); Swap(ref r6, ref r14, low, high); Swap(ref r7, ref r15, low, high);
        (rows[0], rows[1], rows[2], rows[3], rows[4], rows[5], rows[6], rows[7]) = (r0, r1, r2, r3, r4, r5, r6, r7);
        (rows[8], rows[9], rows[10], rows[11], rows[12], rows[13], rows[14], rows[15]) = (r8, r9, r10, r11, r12, r13, r14, r15);
    }

    /// <summary>One swap of <see cref="Transpose16"/>: the low and high halves of the pair (<paramref name="a"/>, <paramref name="b"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Swap(ref Vector512<float> a, ref Vector512<float> b, Vector512<int> low, Vector512<int> high)
    {
        var first = Avx512F.PermuteVar16x32x2(a, low, b);
        b = Avx512F.PermuteVar16x32x2(a, high, b);
        a = first;
    }
}
