using System.Runtime.Intrinsics;

namespace Microsoft.ML.Quantization.Runtime;

/// <summary>
/// e^x, σ(x) and tanh x on float vectors for the LSTM gates. .NET's Vector512.Exp computes each float in double, which made
/// a 128-unit step's gates 1.6× slower (285 against 174 ns, side by side on an AMD EPYC). Here e^x = 2^n · e^r with
/// n = round(x·log₂e), r = x − n·ln 2 (ln 2 in two parts, so r is exact) and e^r by its Taylor series to r⁶, whose remainder is below 1.3e-7 of e^r for |r| ≤ ln 2 / 2: within
/// a few float steps of MathF.Exp, as the gates' float noise already was. The scalar overloads are the path without SIMD
/// (and the vector loops' tails): glibc's tanhf and expf took half of TextLstm's time there.
/// </summary>
internal static class GateMath
{
    private const float Log2E = 1.44269504f;
    private const float Ln2High = 0.693359375f; // few significant bits: n · Ln2High is exact
    private const float Ln2Low = -2.12194440e-4f; // ln 2 − Ln2High

    // x is clamped so that 2^n stays a normal float (the exponent field n + 127 in 1..254); σ of anything beyond is 0 or 1 anyway.
    private const float MinX = -87f, MaxX = 88f;

    /// <summary>e^x for x within [−87, 88] (clamped to it outside).</summary>
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(MinX)), Vector512.Create(MaxX));
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2High), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Low), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(1f / 720), r, Vector512.Create(1f / 120));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var scale = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        return p * scale;
    }

    /// <summary>The same on 8 lanes.</summary>
    public static Vector256<float> Exp(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(MinX)), Vector256.Create(MaxX));
        var n = Vector256.Round(x * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2High), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Low), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(1f / 720), r, Vector256.Create(1f / 120));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 24));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(1f / 6));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(0.5f));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        p = Vector256.FusedMultiplyAdd(p, r, Vector256<float>.One);
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return p * scale;
    }

    /// <summary>
    /// e^x on one float, the vector series without fused multiply-adds (without SIMD, MathF.FusedMultiplyAdd is a libm call;
    /// n · Ln2High is exact, so r loses only the last step's rounding) and n rounded by the 1.5 · 2^23 shift, which SSE2 has.
    /// </summary>
    public static float Exp(float x)
    {
        const float roundingShift = 12582912f; // 1.5 · 2^23: adding it leaves no fraction bits, so it rounds to nearest
        x = Math.Clamp(x, MinX, MaxX);
        float n = x * Log2E + roundingShift - roundingShift;
        float r = x - n * Ln2High - n * Ln2Low;
        float p = ((((((1f / 720) * r + 1f / 120) * r + 1f / 24) * r + 1f / 6) * r + 0.5f) * r + 1f) * r + 1f;
        return p * BitConverter.Int32BitsToSingle(((int)n + 127) << 23);
    }

    /// <summary>σ(x) on one float.</summary>
    public static float Sigmoid(float x) => 1f / (1f + Exp(-x));

    /// <summary>tanh x on one float.</summary>
    public static float Tanh(float x) => 2f * Sigmoid(x + x) - 1f;

    /// <summary>σ(x) = 1 / (1 + e^−x) (a division: vrcp14ps and a Newton step measured slower here).</summary>
    public static Vector512<float> Sigmoid(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Exp(-x));

    /// <summary>tanh x = 2σ(2x) − 1.</summary>
    public static Vector512<float> Tanh(Vector512<float> x) => Vector512.Create(2f) * Sigmoid(x + x) - Vector512<float>.One;

    /// <summary>σ(x) on 8 lanes.</summary>
    public static Vector256<float> Sigmoid(Vector256<float> x) => Vector256<float>.One / (Vector256<float>.One + Exp(-x));

    /// <summary>tanh x on 8 lanes.</summary>
    public static Vector256<float> Tanh(Vector256<float> x) => Vector256.Create(2f) * Sigmoid(x + x) - Vector256<float>.One;
}
