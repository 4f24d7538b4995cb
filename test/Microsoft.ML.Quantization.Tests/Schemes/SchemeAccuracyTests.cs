using Microsoft.ML.Quantization.Schemes;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.Quantization.Tests.Schemes;

/// <summary>Quantization error: falls with bits, and ranks the schemes as AutoQNN Fig. 2 does.</summary>
public class SchemeAccuracyTests
{
    private const int SampleCount = 1 << 16;
    private readonly ITestOutputHelper output;

    public SchemeAccuracyTests(ITestOutputHelper output) => this.output = output;

    public static IEnumerable<object[]> MultiBitCases() =>
        from kind in Enum.GetValues<QuantizationScheme>()
        where SchemeMath.For(kind).MaxBits > SchemeMath.For(kind).MinBits
        from distribution in Enum.GetValues<SurveyDistribution>()
        select new object[] { kind, distribution.ToString() };

    [Theory]
    [MemberData(nameof(MultiBitCases))]
    public void ErrorFallsAsBitsGrow(QuantizationScheme kind, string distribution)
    {
        var scheme = SchemeMath.For(kind);
        float[] values = SchemeErrorSurvey.Draw(Enum.Parse<SurveyDistribution>(distribution), SampleCount, seed: 7);
        double previous = double.PositiveInfinity;
        for (int bits = scheme.MinBits; bits <= scheme.MaxBits; bits++)
        {
            double mse = SchemeErrorSurvey.Mse(kind, bits, values);
            Assert.True(mse < previous, $"{kind} on {distribution}: MSE {mse:G4} at {bits} bits is not below {previous:G4} at {bits - 1}.");
            previous = mse;
        }
    }

    [Fact]
    public void RanksSchemesByErrorAtThreeBitsLikeFigure2()
    {
        var cells = SchemeErrorSurvey.Run(bits: 3, SampleCount, seed: 2024);
        output.WriteLine(SchemeErrorSurvey.ToMarkdown(cells));
        double Error(SurveyDistribution d, QuantizationScheme s) => cells.Single(c => c.Distribution == d && c.Scheme == s).RelativeMse;

        Assert.Equal(4 * Enum.GetValues<QuantizationScheme>().Length, cells.Count);
        Assert.True(Error(SurveyDistribution.Normal, QuantizationScheme.ClipQ) < Error(SurveyDistribution.Normal, QuantizationScheme.ZoomQ));
        Assert.True(Error(SurveyDistribution.LogNormal, QuantizationScheme.PotQ) < Error(SurveyDistribution.LogNormal, QuantizationScheme.ZoomQ));
    }
}
