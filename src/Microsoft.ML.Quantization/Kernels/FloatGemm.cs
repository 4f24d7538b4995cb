using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Kernels;

/// <summary>An O×K float matrix for <see cref="FloatGemm"/>: blocks of 16 outputs for each depth, outputs padded to 16 with zeros.</summary>
internal sealed class FloatWeights
{
    /// <summary>Prepares W given row-major [O·K].</summary>
    public FloatWeights(ReadOnlySpan<float> values, int outputs, int depth)
    {
        if (values.Length != outputs * depth) throw new ArgumentException($"Expected {outputs * depth} weights, got {values.Length}.", nameof(values));
        Outputs = outputs;
        Depth = depth;
        Data = new float[PaddedOutputs * depth];
        for (int o = 0; o < outputs; o++)
            for (int k = 0; k < depth; k++)
                Data[Index(o, k)] = values[o * depth + k];
    }

    /// <summary>Rows O.</summary>
    public int Outputs { get; }

    /// <summary>Columns K.</summary>
    public int Depth { get; }

    /// <summary>O rounded up to 16.</summary>
    public int PaddedOutputs => (Outputs + 15) & ~15;

    /// <summary>The blocks.</summary>
    public float[] Data { get; }

    /// <summary>Position of (o, k) in <see cref="Data"/>.</summary>
    public int Index(int o, int k) => ((o / 16) * Depth + k) * 16 + o % 16;
}

/// <summary>
/// C[p·ldc + o] = Σ_k W[o,k] · X[p·ldx + k] in float, each lane accumulating in k order with fused
/// multiply-adds, so that it equals <see cref="GemmReference"/> bit for bit. AVX-512F: broadcast activation
/// times 16 outputs, 8 positions at a time; otherwise the portable loop.
/// </summary>
internal static class FloatGemm
{
    /// <summary>Whether the vector path runs on this machine.</summary>
    public static bool IsAccelerated => Avx512F.IsSupported;

    /// <summary>Runs the fastest path for the machine.</summary>
    public static void Multiply(FloatWeights w, ReadOnlySpan<float> x, int ldx, int positions, Span<float> c, int ldc)
    {
        Check(w, x, ldx, positions, c, ldc);
        if (IsAccelerated) Avx512(w, x, ldx, positions, c, ldc);
        else Portable(w, x, ldx, positions, c, ldc);
    }

    /// <summary>The scalar path (also the fallback).</summary>
    public static void MultiplyPortable(FloatWeights w, ReadOnlySpan<float> x, int ldx, int positions, Span<float> c, int ldc)
    {
        Check(w, x, ldx, positions, c, ldc);
        Portable(w, x, ldx, positions, c, ldc);
    }

    /// <summary>The AVX-512F path.</summary>
    public static void MultiplyAvx512(FloatWeights w, ReadOnlySpan<float> x, int ldx, int positions, Span<float> c, int ldc)
    {
        if (!Avx512F.IsSupported) throw new PlatformNotSupportedException("AVX-512F is not available.");
        Check(w, x, ldx, positions, c, ldc);
        Avx512(w, x, ldx, positions, c, ldc);
    }

    private static void Portable(FloatWeights w, ReadOnlySpan<float> x, int ldx, int positions, Span<float> c, int ldc)
    {
        for (int p = 0; p < positions; p++)
        {
            for (int o = 0; o < w.Outputs; o++)
            {
                float sum = 0;
                for (int k = 0; k < w.Depth; k++) sum = MathF.FusedMultiplyAdd(x[p * ldx + k], w.Data[w.Index(o, k)], sum);
                c[p * ldc + o] = sum;
            }
        }
    }

    private static unsafe void Avx512(FloatWeights w, ReadOnlySpan<float> x, int ldx, int positions, Span<float> c, int ldc)
    {
        int depth = w.Depth;
        fixed (float* wp = w.Data)
        fixed (float* xp = x)
        fixed (float* cp = c)
        {
            for (int ob = 0; ob < w.PaddedOutputs / 16; ob++)
            {
                float* blocks = wp + (long)ob * depth * 16;
                int p = 0;
                for (; p + 8 <= positions; p += 8) Tile8(blocks, depth, xp + (long)p * ldx, ldx, cp + (long)p * ldc + ob * 16, ldc);
                for (; p < positions; p++)
                {
                    Vector512<float> acc = default;
                    float* xr = xp + (long)p * ldx;
                    for (int k = 0; k < depth; k++) acc = Avx512F.FusedMultiplyAdd(Vector512.Create(xr[k]), Vector512.Load(blocks + 16 * k), acc);
                    acc.Store(cp + (long)p * ldc + ob * 16);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Tile8(float* blocks, int depth, float* x, int ldx, float* c, int ldc)
    {
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int k = 0; k < depth; k++)
        {
            var wv = Vector512.Load(blocks + 16 * k);
            float* xk = x + k;
            a0 = Avx512F.FusedMultiplyAdd(Vector512.Create(xk[0]), wv, a0);
            a1 = Avx512F.FusedMultiplyAdd(Vector512.Create(xk[ldx]), wv, a1);
            a2 = Avx512F.FusedMultiplyAdd(Vector512.Create(xk[2 * ldx]), wv, a2);
            a3 = Avx512F.FusedMultiplyAdd(Vector512.Create(xk[3 * ldx]), wv, a3);
            a4 = Avx512F.FusedMultiplyAdd(Vector512.Create(xk[4 * ldx]), wv, a4);
            a5 = Avx512F.FusedMultiplyAdd(Vector512.Create(xk[5 * ldx]), wv, a5);
            a6 = Avx512F.FusedMultiplyAdd(Vector512.Create(xk[6 * ldx]), wv, a6);
            a7 = Avx512F.FusedMultiplyAdd(Vector512.Create(xk[7 * ldx]), wv, a7);
        }
        GemmArguments.Store8(c, ldc, a0, a1, a2, a3, a4, a5, a6, a7);
    }

    private static void Check(FloatWeights w, ReadOnlySpan<float> x, int ldx, int positions, Span<float> c, int ldc)
    {
        GemmArguments.CheckRows(w.Depth, ldx, positions, x.Length);
        GemmArguments.CheckOutput(w.PaddedOutputs, ldc, positions, c.Length);
    }
}
