using Microsoft.ML.Quantization.Schemes;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Schemes;

/// <summary>Invariants every scheme keeps at every bitwidth it supports, on four distributions.</summary>
public class SchemePropertyTests
{
    // A conv-like weight [out, in, kh, kw]; per-channel groups are the 12 output channels.
    private static readonly long[] Shape = { 12, 4, 5, 5 };

    public static IEnumerable<object[]> Cases()
    {
        foreach (QuantizationScheme kind in Enum.GetValues<QuantizationScheme>())
        {
            var scheme = SchemeMath.For(kind);
            for (int bits = scheme.MinBits; bits <= scheme.MaxBits; bits++)
                foreach (SurveyDistribution distribution in Enum.GetValues<SurveyDistribution>())
                    foreach (QuantizationGranularity granularity in Enum.GetValues<QuantizationGranularity>())
                        yield return new object[] { kind, bits, distribution.ToString(), granularity };
        }
    }

    private static float[] Input(QuantizationScheme kind, int bits, string distribution) =>
        SchemeErrorSurvey.Draw(Enum.Parse<SurveyDistribution>(distribution), (int)Shape.Aggregate((a, b) => a * b), (int)kind * 997 + bits * 31 + distribution.Sum(c => c)); // the same input in every run (HashCode.Combine is seeded per process)

    [Theory]
    [MemberData(nameof(Cases))]
    public void TrainingForwardEqualsReferenceDecodeOfExportExactly(QuantizationScheme kind, int bits, string distribution, QuantizationGranularity granularity)
    {
        using var scope = NewDisposeScope();
        var scheme = SchemeMath.For(kind);
        float[] values = Input(kind, bits, distribution);
        var x = tensor(values).reshape(Shape);

        float[] trained = scheme.Quantize(x, bits, granularity).data<float>().ToArray();
        QuantizedTensor exported = scheme.Export(x, bits, granularity);
        var managedCodes = new byte[values.Length];
        ReferenceCodec.Encode(values, exported.Grid, managedCodes);

        Assert.Equal(exported.Codes, managedCodes);
        Assert.Equal(exported.Decode(), trained);
        Assert.Equal(granularity == QuantizationGranularity.PerTensor ? 1 : (int)Shape[0], exported.Grid.GroupCount);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AtMostTwoToTheBitsLevelsPerGroup(QuantizationScheme kind, int bits, string distribution, QuantizationGranularity granularity)
    {
        using var scope = NewDisposeScope();
        QuantizedTensor exported = SchemeMath.For(kind).Export(tensor(Input(kind, bits, distribution)).reshape(Shape), bits, granularity);
        float[] decoded = exported.Decode();
        int perGroup = decoded.Length / exported.Grid.GroupCount;
        for (int g = 0; g < exported.Grid.GroupCount; g++)
        {
            int distinct = decoded.Skip(g * perGroup).Take(perGroup).Distinct().Count();
            Assert.InRange(distinct, 1, 1 << bits);
        }
        Assert.All(exported.Codes, c => Assert.True(c < 1 << bits));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void QuantizingTwiceWithTheSameGridChangesNothing(QuantizationScheme kind, int bits, string distribution, QuantizationGranularity granularity)
    {
        using var scope = NewDisposeScope();
        var x = tensor(Input(kind, bits, distribution)).reshape(Shape);
        using var grid = SchemeMath.For(kind).Fit(x, bits, granularity);
        var groups = granularity == QuantizationGranularity.PerTensor ? x.reshape(1, -1) : x.reshape(Shape[0], -1);
        var once = grid.Quantize(groups);
        var twice = grid.Quantize(once);
        Assert.Equal(once.data<float>().ToArray(), twice.data<float>().ToArray());
        // Where a grid has two equal levels (ResQ's sums can coincide), the value's code may be either: the codes must decode alike.
        Assert.Equal(grid.Decode(grid.Encode(groups)).data<float>().ToArray(), grid.Decode(grid.Encode(once)).data<float>().ToArray());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GradientPassesInsideTheClipAndIsZeroOutside(QuantizationScheme kind, int bits, string distribution, QuantizationGranularity granularity)
    {
        using var scope = NewDisposeScope();
        var scheme = SchemeMath.For(kind);
        float[] values = Input(kind, bits, distribution);
        var x = tensor(values).reshape(Shape).requires_grad_();
        scheme.Quantize(x, bits, granularity).sum().backward();
        float[] gradient = x.grad!.data<float>().ToArray();

        QuantizedTensor exported = scheme.Export(x.detach(), bits, granularity);
        var grid = exported.Grid;
        int perGroup = values.Length / grid.GroupCount;
        for (int g = 0; g < grid.GroupCount; g++)
        {
            var inside = ExpectedInsideClip(kind, bits, values.AsSpan(g * perGroup, perGroup).ToArray(), g, grid);
            for (int i = 0; i < perGroup; i++) Assert.Equal(inside(i) ? 1f : 0f, gradient[g * perGroup + i]);
        }
        if (kind == QuantizationScheme.ClipQ && bits <= 4 && distribution != nameof(SurveyDistribution.Uniform))
        {
            Assert.Contains(0f, gradient); // heavy enough tails do reach beyond c_b·σ
        }
    }

    /// <summary>The clip each scheme documents for group <paramref name="g"/>, computed here without the library's clip tensors.</summary>
    private static Func<int, bool> ExpectedInsideClip(QuantizationScheme kind, int bits, float[] group, int g, QuantizationGrid grid)
    {
        switch (kind)
        {
            case QuantizationScheme.Binary or QuantizationScheme.Ternary or QuantizationScheme.ResQ:
                return _ => true; // sign-like schemes do not clip
            case QuantizationScheme.ClipQ:
                double sigma = Math.Sqrt(group.Average(v => (double)v * v));
                // A group without negatives is quantized one-sided: levels 0 … (2^b − 1)·d_b·σ, clipped half a step above.
                if (group.Min() >= 0)
                {
                    double top = ((1 << bits) - 0.5) * ClipQScheme.OneSidedSteps[bits - 1] * sigma;
                    return i => group[i] <= top;
                }
                double clip = ClipQScheme.ClipFactors[bits - 1] * sigma;
                return i => Math.Abs(group[i]) <= clip;
            default: // uniform and power-of-two grids clip at their end levels
                var levels = grid.Levels.Skip(g * grid.LevelCount).Take(grid.LevelCount).ToArray();
                float low = levels.Min(), high = levels.Max(), scale = grid.Scales[g];
                return i => group[i] / scale >= low && group[i] / scale <= high;
        }
    }
}
