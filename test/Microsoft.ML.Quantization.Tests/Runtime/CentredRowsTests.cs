using Microsoft.ML.Quantization.Kernels;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Serialization;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Runtime;

/// <summary>
/// 8-bit weights with a zero point per row (ZoomQ-8), whose rows together span more than a signed byte, run on the int8 kernel
/// with each row centred where the machine sums full-range bytes (AVX-VNNI) and has no AVX-512, else on int16: the exact
/// integer products either way.
/// </summary>
public class CentredRowsTests
{
    [Theory]
    [InlineData(64, 147, 0)] // ResNet18's stem: unsigned 8-bit activations
    [InlineData(20, 75, -100)] // signed activations, which the bytes carry with an offset
    [InlineData(17, 4200, -128)] // past one 16-output block, and more than the 4,096 bytes of 255 a position's input sum holds in 16-bit lanes
    public void RowsThatTogetherSpanMoreThanASignedByteGiveTheExactProducts(int outputs, int depth, int minActivation)
    {
        var random = new Random(outputs * 1000 + depth);
        // Every fourth row keeps zero point 0; the others move by up to ±30, so the rows together span [−158, 157].
        var zero = Enumerable.Range(0, outputs).Select(o => o % 4 == 0 ? 0 : random.Next(-30, 31)).ToArray();
        zero[1] = 30;
        var levels = zero.SelectMany(z => Enumerable.Range(z - 128, 256).Select(v => (float)v)).ToArray();
        var grid = new QuantizationGrid(8, Enumerable.Repeat(1f, outputs).ToArray(), levels, Midpoints(levels, outputs), null);
        var codes = Enumerable.Range(0, outputs * depth).Select(_ => (byte)random.Next(256)).ToArray();
        codes[depth] = 255; // row 1 reaches 157
        var weight = ExportedTensor.Codes(new QuantizedTensor(QuantizationScheme.ZoomQ, new[] { outputs, depth }, grid, codes));
        var activationLevels = Enumerable.Range(minActivation, 256).Select(v => (float)v).ToArray();
        var codec = new ActivationCodec(new QuantizationGrid(8, new[] { 1f }, activationLevels, Midpoints(activationLevels, 1), null));
        var product = DenseProduct.Create(weight, codec, Enumerable.Repeat(1f, outputs).ToArray(), new float[outputs]);
        // Centred where int16 would run on 256 bits and int8 sums full-range bytes: the no-AVX-512 CI leg on an AVX-VNNI host.
        bool centred = Int16Gemm.IsAvx2Accelerated && Int8Gemm.IsExact(255, sbyte.MinValue, sbyte.MaxValue);
        Assert.Equal(centred ? "int8 (8-bit slots), centred rows" : "int16", product.Kernel);

        // Random activations, then one position at the top level and one at the bottom throughout.
        const int positions = 37;
        var x = Enumerable.Range(0, positions * depth).Select(_ => minActivation + random.Next(256)).ToArray();
        for (int k = 0; k < depth; k++) (x[k], x[depth + k]) = (minActivation + 255, minActivation);
        int ldx = product.PaddedDepth;
        var bytes = new byte[positions * ldx];
        var shorts = new short[positions * ldx];
        for (int p = 0; p < positions; p++)
            for (int k = 0; k < depth; k++)
            {
                bytes[p * ldx + k] = (byte)(x[p * depth + k] + product.Offset);
                shorts[p * ldx + k] = (short)x[p * depth + k];
            }
        var y = new float[outputs * positions];
        product.Run(new Workspace(Array.Empty<ValueSlot>()), bytes, shorts, default, ldx, positions, y, positions);
        for (int o = 0; o < outputs; o++)
            for (int p = 0; p < positions; p++)
            {
                long expected = 0;
                for (int k = 0; k < depth; k++) expected += (long)levels[o * 256 + codes[o * depth + k]] * x[p * depth + k];
                Assert.True((float)expected == y[o * positions + p], $"output {o}, position {p}: {y[o * positions + p]} against {expected}");
            }
    }

    /// <summary>The thresholds halfway between consecutive levels, group by group.</summary>
    private static float[] Midpoints(float[] levels, int groups)
    {
        int count = levels.Length / groups;
        return Enumerable.Range(0, groups).SelectMany(g => Enumerable.Range(0, count - 1).Select(i => (levels[g * count + i] + levels[g * count + i + 1]) / 2)).ToArray();
    }
}
