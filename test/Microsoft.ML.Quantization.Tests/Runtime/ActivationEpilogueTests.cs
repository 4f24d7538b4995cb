using Microsoft.ML.Quantization.Runtime;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Runtime;

/// <summary>The fused epilogue's AVX-512 path writes exactly the codes of its scalar path, for both target layouts, with and without ReLU and pool.</summary>
public class ActivationEpilogueTests
{
    [Theory]
    [InlineData(32, 7, 7, 1, true, true)]
    [InlineData(48, 8, 6, 2, true, true)]
    [InlineData(16, 7, 7, 2, false, true)]
    [InlineData(32, 6, 6, 3, true, false)]
    [InlineData(20, 5, 5, 1, true, false)]
    public void VectorPathWritesTheScalarPathsCodes(int outputs, int height, int width, int pool, bool relu, bool paddedBytes)
    {
        var random = new Random(outputs * 31 + height * 7 + pool);
        var grid = new QuantizationGrid(2, new[] { 0.25f }, new float[] { -1, 0, 1, 2 }, new[] { -0.5f, 0.5f, 1.5f }, null);
        var codec = new ActivationCodec(grid);
        int outHeight = height / pool, outWidth = width / pool;
        var target = paddedBytes
            ? new ValueSlot(0, new[] { outputs, outHeight, outWidth }, codec, SlotLayout.PaddedBytes, 1)
            : new ValueSlot(0, new[] { outputs * outHeight * outWidth }, codec, SlotLayout.Shorts);
        int ldc = (outputs + 15) & ~15;
        var acc = Enumerable.Range(0, height * width * ldc).Select(_ => random.Next(-400, 400)).ToArray();
        var mul = Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() * 0.01)).ToArray();
        var add = Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var correction = Enumerable.Range(0, outputs).Select(_ => random.Next(-50, 50)).ToArray();
        var epilogue = new ActivationEpilogue(correction, mul, add, relu, pool, width, outHeight, outWidth, target);
        var scalar = new Workspace(new[] { target });
        var vector = new Workspace(new[] { target });
        foreach (var (ws, vectorized) in new[] { (scalar, false), (vector, true) })
        {
            epilogue.Begin(ws);
            epilogue.Write(acc, ldc, 0, ldc / 16, ws, vectorized);
        }
        if (paddedBytes) Assert.Equal(scalar.Bytes(target), vector.Bytes(target));
        else Assert.Equal(scalar.Shorts(target), vector.Shorts(target));
        // Every code came from the grid: some values of each level, so the comparison above is not of blanks.
        var levels = paddedBytes ? scalar.Bytes(target).Select(b => (int)b).ToArray() : scalar.Shorts(target).Select(s => (int)s).ToArray();
        Assert.True(levels.Distinct().Count() >= 3, $"only {levels.Distinct().Count()} distinct codes");
    }

    /// <summary>The vector encoder gives Encode's integer level for every value: grids of 4 to 256 levels (the binary search by gathers above 16), values on thresholds, ±∞ and NaN.</summary>
    [Theory]
    [InlineData(4)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(200)]
    [InlineData(256)]
    public void VectorEncoderMatchesScalarEncode(int levels)
    {
        var levelValues = Enumerable.Range(0, levels).Select(i => (float)i - levels / 2).ToArray();
        var thresholds = Enumerable.Range(0, levels - 1).Select(i => levelValues[i] + 0.5f).ToArray();
        var codec = new ActivationCodec(new QuantizationGrid(8, new[] { 0.125f }, levelValues, thresholds, null));
        Assert.True(codec.IsVectorized);
        var random = new Random(levels);
        var values = Enumerable.Range(0, 4096).Select(_ => (float)((random.NextDouble() - 0.5) * (levels + 8) * 0.125))
            .Concat(thresholds.Select(t => t * 0.125f)).Concat(new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN, 0f, -0f })
            .ToArray();
        values = values.Concat(new float[(16 - values.Length % 16) % 16]).ToArray();
        for (int i = 0; i < values.Length; i += 16)
        {
            var vector = codec.EncodeIntegers(System.Runtime.Intrinsics.Vector512.Create(values, i));
            for (int j = 0; j < 16; j++) Assert.Equal(codec.Integers![codec.Encode(values[i + j])], vector[j]);
        }
    }
}
