using System.Runtime.Intrinsics;
using Microsoft.ML.Quantization.Runtime;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Runtime;

/// <summary>The LSTM gates' e^x, σ and tanh stay within a few float steps of the exact functions, on 16 and 8 lanes (e^x the same on both) and on one float.</summary>
public class GateMathTests
{
    [Fact]
    public void ExpIsWithinThreeFloatStepsOverItsRange()
    {
        var xs = Enumerable.Range(0, 16 * 4000).Select(i => -87f + 175f * i / (16 * 4000 - 1)).Concat(new[] { 0f, 1e-8f, -1e-8f, 0.3465f, -0.3466f }).ToArray();
        foreach (var (x, e512, e256) in Evaluate(xs, GateMath.Exp, GateMath.Exp))
        {
            double exact = Math.Exp(x);
            Assert.True(Math.Abs(e512 - exact) <= 3.6e-7 * exact, $"e^{x}: {e512} against {exact}");
            Assert.Equal(e512, e256);
        }
    }

    [Fact]
    public void SigmoidAndTanhAreWithinAFewFloatStepsAndSaturate()
    {
        var xs = Enumerable.Range(0, 16 * 1000).Select(i => -40f + 80f * i / (16 * 1000 - 1)).Concat(new[] { -500f, 500f, -90f, 90f, 0f }).ToArray();
        foreach (var (x, s512, s256) in Evaluate(xs, GateMath.Sigmoid, GateMath.Sigmoid))
        {
            Assert.True(Math.Abs(s512 - 1 / (1 + Math.Exp(-x))) <= 2.5e-7, $"σ({x}) = {s512}");
            Assert.True(Math.Abs(s256 - 1 / (1 + Math.Exp(-x))) <= 2.5e-7, $"σ({x}) = {s256} on 8 lanes");
        }
        foreach (var (x, t512, t256) in Evaluate(xs, GateMath.Tanh, GateMath.Tanh))
        {
            Assert.True(Math.Abs(t512 - Math.Tanh(x)) <= 5e-7, $"tanh({x}) = {t512}");
            Assert.True(Math.Abs(t256 - Math.Tanh(x)) <= 5e-7, $"tanh({x}) = {t256} on 8 lanes");
        }
    }

    [Fact]
    public void ScalarFunctionsKeepTheVectorBounds()
    {
        var xs = Enumerable.Range(0, 64000).Select(i => -87f + 175f * i / 63999).Concat(new[] { 0f, 1e-8f, -1e-8f, 0.3465f, -0.3466f, -500f, 500f }).ToArray();
        foreach (var x in xs)
        {
            double exact = Math.Exp(Math.Clamp(x, -87f, 88f)), sigmoid = 1 / (1 + Math.Exp(-x));
            Assert.True(Math.Abs(GateMath.Exp(x) - exact) <= 3.6e-7 * exact, $"e^{x}: {GateMath.Exp(x)} against {exact}");
            Assert.True(Math.Abs(GateMath.Sigmoid(x) - sigmoid) <= 2.5e-7, $"σ({x}) = {GateMath.Sigmoid(x)}");
            Assert.True(Math.Abs(GateMath.Tanh(x) - Math.Tanh(x)) <= 5e-7, $"tanh({x}) = {GateMath.Tanh(x)}");
            Assert.True(Math.Abs(GateMath.Exp(x) - GateMath.Exp(Vector256.Create(x))[0]) <= 2.4e-7 * exact, $"e^{x} against the vector series");
        }
    }

    private static IEnumerable<(float X, float Wide, float Narrow)> Evaluate(float[] xs, Func<Vector512<float>, Vector512<float>> wide, Func<Vector256<float>, Vector256<float>> narrow)
    {
        var padded = xs.Concat(new float[(16 - xs.Length % 16) % 16]).ToArray();
        for (int i = 0; i < padded.Length; i += 16)
        {
            var w = wide(Vector512.Create(padded, i));
            var n0 = narrow(Vector256.Create(padded, i));
            var n1 = narrow(Vector256.Create(padded, i + 8));
            for (int j = 0; j < 16 && i + j < xs.Length; j++) yield return (xs[i + j], w[j], j < 8 ? n0[j] : n1[j - 8]);
        }
    }
}
