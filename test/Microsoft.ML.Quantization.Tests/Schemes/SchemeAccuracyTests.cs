using Microsoft.ML.Quantization.Schemes;
using Xunit;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Schemes;

/// <summary>Quantization error: falls with bits, and ranks the schemes as AutoQNN Fig. 2 does.</summary>
public class SchemeAccuracyTests
{
    private const int SampleCount = 1 << 16;
    private readonly ITestOutputHelper output;

    public SchemeAccuracyTests(ITestOutputHelper output) => this.output = output;

    private static double Mse(QuantizationScheme kind, int bits, float[] values)
    {
        using var scope = NewDisposeScope();
        float[] quantized = QuantizerScheme.For(kind).Quantize(tensor(values), bits).data<float>().ToArray();
        return Samples.MeanSquaredError(values, quantized);
    }

    public static IEnumerable<object[]> MultiBitCases() =>
        from kind in Enum.GetValues<QuantizationScheme>()
        where QuantizerScheme.For(kind).MaxBits > QuantizerScheme.For(kind).MinBits
        from distribution in Enum.GetValues<Distribution>()
        select new object[] { kind, distribution };

    [Theory]
    [MemberData(nameof(MultiBitCases))]
    public void ErrorFallsAsBitsGrow(QuantizationScheme kind, Distribution distribution)
    {
        var scheme = QuantizerScheme.For(kind);
        float[] values = Samples.Draw(distribution, SampleCount, seed: 7);
        double previous = double.PositiveInfinity;
        for (int bits = scheme.MinBits; bits <= scheme.MaxBits; bits++)
        {
            double mse = Mse(kind, bits, values);
            Assert.True(mse < previous, $"{kind} on {distribution}: MSE {mse:G4} at {bits} bits is not below {previous:G4} at {bits - 1}.");
            previous = mse;
        }
    }

    [Fact]
    public void RanksSchemesByErrorAtThreeBitsLikeFigure2()
    {
        var table = new Dictionary<(Distribution, QuantizationScheme), double>();
        output.WriteLine("Relative quantization MSE (MSE / E[x²]) at 3 bits (Binary 1, Ternary and Quaternary 2), 65,536 samples:");
        output.WriteLine("| scheme | " + string.Join(" | ", Enum.GetValues<Distribution>()) + " |");
        output.WriteLine("|---|" + string.Concat(Enumerable.Repeat("---|", Enum.GetValues<Distribution>().Length)));
        var samples = Enum.GetValues<Distribution>().ToDictionary(d => d, d => Samples.Draw(d, SampleCount, seed: 2024));
        foreach (QuantizationScheme kind in Enum.GetValues<QuantizationScheme>())
        {
            var scheme = QuantizerScheme.For(kind);
            int bits = Math.Clamp(3, scheme.MinBits, scheme.MaxBits);
            var row = new List<string>();
            foreach (var (distribution, values) in samples)
            {
                double energy = values.Average(v => (double)v * v);
                double relative = Mse(kind, bits, values) / energy;
                table[(distribution, kind)] = relative;
                row.Add(relative.ToString("F5"));
            }
            output.WriteLine($"| {kind}-{bits} | {string.Join(" | ", row)} |");
        }
        foreach (Distribution distribution in Enum.GetValues<Distribution>())
        {
            var ranking = Enum.GetValues<QuantizationScheme>().OrderBy(k => table[(distribution, k)]);
            output.WriteLine($"{distribution}: {string.Join(" < ", ranking)}");
        }

        Assert.True(table[(Distribution.Normal, QuantizationScheme.ClipQ)] < table[(Distribution.Normal, QuantizationScheme.ZoomQ)]);
        Assert.True(table[(Distribution.LogNormal, QuantizationScheme.PotQ)] < table[(Distribution.LogNormal, QuantizationScheme.ZoomQ)]);
    }
}
