using System.Runtime.Intrinsics.X86;
using Microsoft.ML.Quantization.Kernels;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Kernels;

/// <summary>The lookup-table GEMV: both paths equal the integer product bit for bit over random shapes, table sizes and activation ranges.</summary>
public class LookupGemvTests
{
    public static TheoryData<int, int> Cases()
    {
        var data = new TheoryData<int, int>();
        foreach (int levels in new[] { 1, 2, 3, 4, 9, 16 })
            for (int seed = 0; seed < 4; seed++) data.Add(levels, seed);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PathsMatchTheIntegerProduct(int levels, int seed)
    {
        var random = new Random(seed * 17 + levels);
        int outputs = random.Next(1, 200), depth = random.Next(1, 600);
        // Small tables with full-range activations, and (seed 3) the largest magnitudes the 16-bit sums allow.
        int maxLevel = seed == 3 ? 127 : random.Next(1, 8);
        var table = Enumerable.Range(0, levels).Select(_ => random.Next(-maxLevel, maxLevel + 1)).ToArray();
        var codes = Enumerable.Range(0, outputs * depth).Select(_ => (byte)random.Next(levels)).ToArray();
        var w = LookupWeights.FromCodes(codes, table, outputs, depth);
        Assert.Equal(levels <= 2 ? 1 : levels <= 4 ? 2 : 4, w.Bits);
        int maxX = Math.Min(255, short.MaxValue / (2 * w.GroupSize * Math.Max(1, w.MaxMagnitude)));
        Assert.True(LookupGemv.IsExact(w, maxX));
        var x = new byte[w.PaddedDepth];
        for (int k = 0; k < depth; k++) x[k] = (byte)(seed == 3 ? maxX : random.Next(maxX + 1));

        var expected = new int[outputs];
        for (int o = 0; o < outputs; o++)
            for (int k = 0; k < depth; k++) expected[o] += table[codes[o * depth + k]] * x[k];
        var portable = new int[outputs];
        LookupGemv.MultiplyPortable(w, x, portable);
        Assert.Equal(expected, portable);
        var vector = new int[outputs];
        if (Avx512BW.IsSupported) LookupGemv.MultiplyAvx512(w, x, vector, maxX);
        else
        {
            // Without AVX-512BW (DOTNET_EnableAVX512=0 in .ci/run) the vector entry refuses and the dispatcher runs the portable path.
            Assert.Throws<PlatformNotSupportedException>(() => LookupGemv.MultiplyAvx512(w, x, vector, maxX));
            LookupGemv.Multiply(w, x, vector, maxX);
        }
        Assert.Equal(expected, vector);
    }

    [Fact]
    public void RefusesInputsItCannotSumExactly()
    {
        var w = LookupWeights.FromCodes(new byte[] { 0, 1, 1, 0 }, new[] { -100, 100 }, 1, 4);
        Assert.False(LookupGemv.IsExact(w, 255)); // 2 · 4 · 100 · 255 > 32767
        Assert.Throws<ArgumentException>(() => LookupGemv.Multiply(w, new byte[3], new int[1]));
        Assert.Throws<ArgumentException>(() => LookupWeights.FromCodes(new byte[4], new int[17], 1, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => LookupWeights.FromCodes(new byte[] { 2, 0, 0, 0 }, new[] { 1, -1 }, 1, 4));
        if (Avx512BW.IsSupported) Assert.Throws<ArgumentOutOfRangeException>(() => LookupGemv.MultiplyAvx512(w, new byte[8], new int[1], 255));
    }
}
