using Microsoft.ML.Quantization.Schemes;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Schemes;

/// <summary>Small vectors quantized by hand from each scheme's documented definition.</summary>
public class HandComputedSchemeTests
{
    public static IEnumerable<object[]> Cases() => new[]
    {
        // mean|x| = 2.5
        new object[] { QuantizationScheme.Binary, 1, new[] { 1f, -2f, 3f, -4f }, new[] { 2.5f, -2.5f, 2.5f, -2.5f } },
        // sign(0) = +1, mean|x| = 0.5
        new object[] { QuantizationScheme.Binary, 1, new[] { 0f, -1f }, new[] { 0.5f, -0.5f } },
        // Δ = 0.7·1.525 = 1.0675; α = mean(2, 3) = 2.5
        new object[] { QuantizationScheme.Ternary, 2, new[] { 0.1f, -1f, 2f, -3f }, new[] { 0f, 0f, 2.5f, -2.5f } },
        // σ = √6.0625 = 2.46221; α = 1.0484σ = 2.58138; x/α = 0.775, −0.775, 0.194, −1.550
        new object[] { QuantizationScheme.Quaternary, 2, new[] { 2f, -2f, 0.5f, -4f }, new[] { 2.58138f, -2.58138f, 0f, -5.16277f } },
        // max 2.9 → e = 2, step 2^(2−3+1) = 1, codes in [−4, 3]; 1.5 rounds half up
        new object[] { QuantizationScheme.FixedQ, 3, new[] { 0.3f, -0.7f, 1.5f, 2.9f }, new[] { 0f, -1f, 2f, 3f } },
        // max 5 → e = 3, step 2, codes in [−4, 3]: 7.9 saturates at 6
        new object[] { QuantizationScheme.FixedQ, 3, new[] { 1.2f, -5f, 7.9f }, new[] { 2f, -4f, 6f } },
        // α1 = 2, residuals ±1, α2 = 1: levels {−3, −1, 1, 3} hold x exactly
        new object[] { QuantizationScheme.ResQ, 2, new[] { 1f, -1f, 3f, -3f }, new[] { 1f, -1f, 3f, -3f } },
        // [−1, 2] → s = 1, z = 1, levels {−1, 0, 1, 2}
        new object[] { QuantizationScheme.ZoomQ, 2, new[] { -1f, 0.4f, 2f, 1.6f }, new[] { -1f, 0f, 2f, 2f } },
        // σ = 1, c_2 = 1.9914, Δ = 0.9957, levels ±0.49785, ±1.49355; thresholds −1, 0, 1 (in units of Δ)
        new object[] { QuantizationScheme.ClipQ, 2, new[] { 1f, -1f, 1f, -1f }, new[] { 1.49355f, -1.49355f, 1.49355f, -1.49355f } },
        // 1 bit, c_1 = 1.5958: Δ = 1.5958, levels ±0.7979
        new object[] { QuantizationScheme.ClipQ, 1, new[] { 1f, -1f, 1f, -1f }, new[] { 0.7979f, -0.7979f, 0.7979f, -0.7979f } },
        // no negatives, one-sided: σ = √2, Δ = 0.92033·√2 = 1.30154, levels 0, Δ, 2Δ, 3Δ; 2 / Δ = 1.54 rounds to 2
        new object[] { QuantizationScheme.ClipQ, 2, new[] { 0f, 0f, 2f, 2f }, new[] { 0f, 0f, 2.60309f, 2.60309f } },
        // one-sided at 1 bit: σ = 1.600781, Δ = 1.73101·σ = 2.77097, levels {0, Δ}, threshold Δ/2 = 1.385
        new object[] { QuantizationScheme.ClipQ, 1, new[] { 0f, 0.5f, 1f, 3f }, new[] { 0f, 0f, 0f, 2.77097f } },
        // s = 4 represents 4, −2, 1 exactly; 0.1 is below the 0.5 threshold between 0 and 1
        new object[] { QuantizationScheme.PotQ, 3, new[] { 4f, -2f, 1f, 0.1f }, new[] { 4f, -2f, 1f, 0f } },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesHandComputedValues(QuantizationScheme kind, int bits, float[] input, float[] expected)
    {
        using var scope = NewDisposeScope();
        float[] actual = SchemeMath.For(kind).Quantize(tensor(input), bits).data<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i], tolerance: 2e-5f);
    }

    [Theory]
    [InlineData(QuantizationScheme.Binary, 2)]
    [InlineData(QuantizationScheme.Ternary, 3)]
    [InlineData(QuantizationScheme.FixedQ, 9)]
    [InlineData(QuantizationScheme.PotQ, 5)]
    [InlineData(QuantizationScheme.ZoomQ, 1)]
    public void UnsupportedBitsThrowANamedError(QuantizationScheme kind, int bits)
    {
        using var scope = NewDisposeScope();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => SchemeMath.For(kind).Quantize(tensor(new[] { 1f, 2f }), bits));
        Assert.Contains(kind.ToString(), error.Message);
    }

    [Theory]
    [InlineData(QuantizationScheme.Binary)]
    [InlineData(QuantizationScheme.FixedQ)]
    public void RefittingTheQuantizedTensorReproducesItExactly(QuantizationScheme kind)
    {
        // Binary keeps mean|x| and signs; FixedQ keeps the exponent of the maximum: both fixed points.
        using var scope = NewDisposeScope();
        var scheme = SchemeMath.For(kind);
        foreach (SurveyDistribution distribution in Enum.GetValues<SurveyDistribution>())
        {
            var x = tensor(SchemeErrorSurvey.Draw(distribution, 4096, seed: 3));
            var once = scheme.Quantize(x, scheme.MaxBits);
            Assert.Equal(once.data<float>().ToArray(), scheme.Quantize(once, scheme.MaxBits).data<float>().ToArray());
        }
    }
}
