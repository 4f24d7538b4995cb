using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>What every GEMM kernel shares: the argument checks done once per call, and the store of an 8-position tile.</summary>
internal static class GemmArguments
{
    /// <summary>Checks row-major activations (rows of <paramref name="rowLength"/> values every <paramref name="ldx"/>) against their buffer.</summary>
    public static void CheckRows(int rowLength, int ldx, int positions, int inputLength)
    {
        if (ldx < rowLength) throw new ArgumentOutOfRangeException(nameof(ldx), ldx, $"Activation rows need {rowLength} values.");
        if (positions < 0 || (positions > 0 && (long)(positions - 1) * ldx + rowLength > inputLength)) throw new ArgumentException("The activations are too short.", "x");
    }

    /// <summary>
    /// Checks activations read at <paramref name="starts"/> plus <paramref name="offsets"/> (a direct convolution's taps, an
    /// int16 product's depth pairs), each read <paramref name="runLength"/> long, against their buffer.
    /// </summary>
    public static void CheckReads(ReadOnlySpan<int> offsets, string offsetsName, ReadOnlySpan<int> starts, int runLength, int inputLength)
    {
        int maxOffset = 0;
        foreach (int offset in offsets)
        {
            if (offset < 0) throw new ArgumentException("Offsets must not be negative.", offsetsName);
            maxOffset = Math.Max(maxOffset, offset);
        }
        foreach (int start in starts)
            if (start < 0 || (long)start + maxOffset + runLength > inputLength) throw new ArgumentException("The activations are too short.", "x");
    }

    /// <summary>Checks that <paramref name="positions"/> output rows of <paramref name="paddedOutputs"/> fit every <paramref name="ldc"/>.</summary>
    public static void CheckOutput(int paddedOutputs, int ldc, int positions, int outputLength)
    {
        if (ldc < paddedOutputs) throw new ArgumentOutOfRangeException(nameof(ldc), ldc, $"Output rows need {paddedOutputs} entries.");
        if (positions > 0 && (long)(positions - 1) * ldc + paddedOutputs > outputLength) throw new ArgumentException("The output is too short.", "c");
    }

    /// <summary>Stores the eight accumulators of a tile to rows c, c + ldc, …, c + 7·ldc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store8<T>(T* c, int ldc, Vector512<T> a0, Vector512<T> a1, Vector512<T> a2, Vector512<T> a3,
        Vector512<T> a4, Vector512<T> a5, Vector512<T> a6, Vector512<T> a7) where T : unmanaged
    {
        a0.Store(c);
        a1.Store(c + ldc);
        a2.Store(c + 2 * ldc);
        a3.Store(c + 3 * ldc);
        a4.Store(c + 4 * ldc);
        a5.Store(c + 5 * ldc);
        a6.Store(c + 6 * ldc);
        a7.Store(c + 7 * ldc);
    }
}
