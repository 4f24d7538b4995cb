using Microsoft.ML.Quantization.Schemes;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Schemes;

/// <summary>
/// Recomputes the constants ClipQ and Quaternary use: the clip (or step) minimising the expected MSE of
/// the quantizer on N(0,1), or on ReLU(N(0,1)) for ClipQ's one-sided grid, from the closed form of the
/// error over each decision interval.
/// </summary>
public class OptimalClipConstantsTests
{
    [Fact]
    public void ClipQFactorsMinimiseExpectedErrorOnTheNormal()
    {
        for (int bits = 1; bits <= 8; bits++)
        {
            int n = 1 << bits;
            // 2^b bins over [−c, c], reconstructed at their centres.
            double optimum = GoldenSection(c => ExpectedError(Enumerable.Range(0, n).Select(k => (k - (n - 1) / 2.0) * 2 * c / n).ToArray()), 0.5, 8);
            Assert.Equal(ClipQScheme.ClipFactors[bits - 1], optimum, 3);
        }
    }

    [Fact]
    public void ClipQOneSidedStepsMinimiseExpectedErrorOnTheRectifiedNormal()
    {
        for (int bits = 1; bits <= 8; bits++)
        {
            int n = 1 << bits;
            // Levels 0, Δ, …, (2^b − 1)Δ; every value of ReLU(X) at or below 0 is the level 0 exactly, so only x > 0 errs.
            double step = GoldenSection(d => ExpectedError(Enumerable.Range(0, n).Select(k => k * d).ToArray(), lowest: 0), 0.001, 4);
            // The scheme's step is per root mean square, and ReLU(N(0,1)) has an RMS of 1/√2.
            double perRms = step * Math.Sqrt(2);
            Assert.Equal(ClipQScheme.OneSidedSteps[bits - 1], perRms, 1e-4 * perRms + 1e-5);
        }
    }

    [Fact]
    public void QuaternaryStepMinimisesExpectedErrorOnTheNormal()
    {
        double optimum = GoldenSection(a => ExpectedError(new[] { -2 * a, -a, 0, a }), 0.1, 3);
        Assert.Equal(QuaternaryScheme.StepFactor, optimum, 3);
    }

    /// <summary>
    /// E[(X − Q(X))²] for X ~ N(0,1) and nearest-level Q over ascending levels, counting only X above
    /// <paramref name="lowest"/> (the rest errs by nothing).
    /// </summary>
    private static double ExpectedError(double[] levels, double lowest = double.NegativeInfinity)
    {
        double total = 0;
        for (int i = 0; i < levels.Length; i++)
        {
            double a = i == 0 ? lowest : (levels[i - 1] + levels[i]) / 2;
            double b = i == levels.Length - 1 ? double.PositiveInfinity : (levels[i] + levels[i + 1]) / 2;
            double mass = Cdf(b) - Cdf(a);
            double first = Pdf(a) - Pdf(b);                           // ∫ x φ
            double second = mass + XPdf(a) - XPdf(b);                 // ∫ x² φ
            total += second - 2 * levels[i] * first + levels[i] * levels[i] * mass;
        }
        return total;
    }

    private static double Pdf(double x) => double.IsInfinity(x) ? 0 : Math.Exp(-x * x / 2) / Math.Sqrt(2 * Math.PI);
    private static double XPdf(double x) => double.IsInfinity(x) ? 0 : x * Pdf(x);
    private static double Cdf(double x) => double.IsNegativeInfinity(x) ? 0 : double.IsPositiveInfinity(x) ? 1 : 0.5 * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>erf by its Taylor series (|x| ≤ 3) or continued fraction (beyond), accurate to ~1e-13.</summary>
    private static double Erf(double x)
    {
        double z = Math.Abs(x);
        double result;
        if (z <= 3)
        {
            double term = z, sum = z;
            for (int n = 1; n < 200 && Math.Abs(term) > 1e-17 * Math.Abs(sum); n++)
            {
                term *= -z * z / n;
                sum += term / (2 * n + 1);
            }
            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            double fraction = 0;
            for (int n = 60; n >= 1; n--) fraction = n / 2.0 / (z + fraction);
            result = 1 - Math.Exp(-z * z) / Math.Sqrt(Math.PI) / (z + fraction);
        }
        return Math.Sign(x) * result;
    }

    private static double GoldenSection(Func<double, double> f, double lo, double hi)
    {
        double ratio = (Math.Sqrt(5) - 1) / 2;
        for (int i = 0; i < 200; i++)
        {
            double c = hi - ratio * (hi - lo), d = lo + ratio * (hi - lo);
            if (f(c) < f(d)) hi = d; else lo = c;
        }
        return (lo + hi) / 2;
    }
}
