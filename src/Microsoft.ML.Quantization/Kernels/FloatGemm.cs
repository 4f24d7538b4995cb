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
/// times 16 outputs, 8 positions at a time; AVX2 with FMA: each 8-output half of a block, 4 positions at a time;
/// otherwise the portable loop.
/// </summary>
internal static class FloatGemm
{
    /// <summary>Whether the AVX-512 path runs on this machine.</summary>
    public static bool IsAccelerated => Avx512F.IsSupported;

    /// <summary>Whether the AVX2 path runs on this machine (no AVX-512F; AVX2 and FMA).</summary>
    public static bool IsAvx2Accelerated => !Avx512F.IsSupported && Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Runs the fastest path for the machine.</summary>
    public static void Multiply(FloatWeights w, ReadOnlySpan<float> x, int ldx, int positions, Span<float> c, int ldc)
    {
        Check(w, x, ldx, positions, c, ldc);
        if (IsAccelerated) Avx512(w, x, ldx, positions, c, ldc);
        else if (Avx2.IsSupported && Fma.IsSupported) Avx2Path(w, x, ldx, positions, c, ldc);
        else Portable(w, x, ldx, positions, c, ldc);
    }

    /// <summary>The AVX2 path.</summary>
    public static void MultiplyAvx2(FloatWeights w, ReadOnlySpan<float> x, int ldx, int positions, Span<float> c, int ldc)
    {
        if (!Avx2.IsSupported || !Fma.IsSupported) throw new PlatformNotSupportedException("AVX2 with FMA is not available.");
        Check(w, x, ldx, positions, c, ldc);
        Avx2Path(w, x, ldx, positions, c, ldc);
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
        // Block by block, a depth at a time: each weight is read in storage order, each sum still in k order.
        var data = w.Data;
        Span<float> sums = stackalloc float[16];
        for (int ob = 0; ob < w.PaddedOutputs / 16; ob++)
        {
            int outputs = Math.Min(16, w.Outputs - 16 * ob);
            for (int p = 0; p < positions; p++)
            {
                sums.Clear();
                var row = x.Slice(p * ldx, w.Depth);
                for (int k = 0; k < w.Depth; k++)
                {
                    var block = data.AsSpan((ob * w.Depth + k) * 16, 16);
                    for (int o = 0; o < outputs; o++) sums[o] = MathF.FusedMultiplyAdd(row[k], block[o], sums[o]);
                }
                sums[..outputs].CopyTo(c.Slice(p * ldc + 16 * ob, outputs));
            }
        }
    }

    private static unsafe void Avx2Path(FloatWeights w, ReadOnlySpan<float> x, int ldx, int positions, Span<float> c, int ldc)
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
                for (; p + 4 <= positions; p += 4) Tile4Avx2(blocks, depth, xp + (long)p * ldx, ldx, cp + (long)p * ldc + ob * 16, ldc);
                for (; p < positions; p++)
                {
                    Vector256<float> lo = default, hi = default;
                    float* xr = xp + (long)p * ldx;
                    for (int k = 0; k < depth; k++)
                    {
                        var xk = Vector256.Create(xr[k]);
                        lo = Fma.MultiplyAdd(xk, Vector256.Load(blocks + 16 * k), lo);
                        hi = Fma.MultiplyAdd(xk, Vector256.Load(blocks + 16 * k + 8), hi);
                    }
                    lo.Store(cp + (long)p * ldc + ob * 16);
                    hi.Store(cp + (long)p * ldc + ob * 16 + 8);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Tile4Avx2(float* blocks, int depth, float* x, int ldx, float* c, int ldc)
    {
        Vector256<float> l0 = default, l1 = default, l2 = default, l3 = default, h0 = default, h1 = default, h2 = default, h3 = default;
        for (int k = 0; k < depth; k++)
        {
            var lo = Vector256.Load(blocks + 16 * k);
            var hi = Vector256.Load(blocks + 16 * k + 8);
            float* xk = x + k;
            var x0 = Vector256.Create(xk[0]);
            var x1 = Vector256.Create(xk[ldx]);
            var x2 = Vector256.Create(xk[2 * ldx]);
            var x3 = Vector256.Create(xk[3 * ldx]);
            l0 = Fma.MultiplyAdd(x0, lo, l0);
            h0 = Fma.MultiplyAdd(x0, hi, h0);
            l1 = Fma.MultiplyAdd(x1, lo, l1);
            h1 = Fma.MultiplyAdd(x1, hi, h1);
            l2 = Fma.MultiplyAdd(x2, lo, l2);
            h2 = Fma.MultiplyAdd(x2, hi, h2);
            l3 = Fma.MultiplyAdd(x3, lo, l3);
            h3 = Fma.MultiplyAdd(x3, hi, h3);
        }
        l0.Store(c); h0.Store(c + 8);
        l1.Store(c + ldc); h1.Store(c + ldc + 8);
        l2.Store(c + 2 * ldc); h2.Store(c + 2 * ldc + 8);
        l3.Store(c + 3 * ldc); h3.Store(c + 3 * ldc + 8);
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
