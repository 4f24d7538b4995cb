using Microsoft.ML.Quantization.Runtime.Steps;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Runtime.Steps;

/// <summary>The window's im2col rows, read from the geometry, equal those of an index-by-index reference, over random shapes.</summary>
public class ConvolutionWindowTests
{
    [Theory]
    [InlineData(3, 20, 18, 7, 2, 3)] // a stem: the window hangs 3 pixels over every border
    [InlineData(5, 9, 9, 3, 1, 1)]
    [InlineData(2, 8, 11, 3, 2, 0)]
    [InlineData(4, 6, 5, 5, 1, 4)] // padding at the kernel's size less one: whole rows outside, corner windows holding one input
    [InlineData(1, 4, 4, 1, 1, 0)]
    [InlineData(6, 7, 3, 3, 3, 2)]
    public void RowsEqualTheReferenceGatherForEveryPositionRange(int channels, int height, int width, int kernel, int stride, int padding)
    {
        var random = new Random(channels * 1009 + height * 31 + kernel * 7 + stride + padding);
        var window = new ConvolutionWindow(channels, height, width, kernel, stride, padding);
        var x = Enumerable.Range(0, window.InputLength + 5).Select(_ => (short)random.Next(-300, 300)).ToArray();
        int ldx = window.Depth + random.Next(0, 3);
        var expected = Reference(x, channels, height, width, kernel, stride, padding, ldx, out int positions);
        Assert.Equal(positions, window.Positions);

        // Every position, then a range that starts and ends inside the map, as one thread's share.
        foreach (var (start, count) in new[] { (0, positions), (positions / 3, positions / 2) })
        {
            var rows = Enumerable.Repeat((short)-7, positions * ldx).ToArray();
            window.Rows(x, start, count, rows.AsSpan(), ldx, new Identity());
            for (int p = 0; p < positions; p++)
                for (int k = 0; k < ldx; k++)
                {
                    short want = p >= start && p < start + count && k < window.Depth ? expected[p * ldx + k] : (short)-7;
                    Assert.True(want == rows[p * ldx + k], $"position {p}, element {k}: {rows[p * ldx + k]}, expected {want}");
                }
        }
    }

    [Fact]
    public void PaddingTakesTheElementsPadValue()
    {
        var window = new ConvolutionWindow(1, 2, 2, 3, 1, 1);
        var rows = new float[window.Positions * window.Depth];
        window.Rows(new short[] { 1, 2, 3, 4 }, 0, window.Positions, rows.AsSpan(), window.Depth, new Shifted());
        // Position (0, 0): the window's first row and column hang over the border.
        Assert.Equal(new float[] { -1, -1, -1, -1, 11, 12, -1, 13, 14 }, rows[..9]);
    }

    [Fact]
    public void RowsThatDoNotFitAreRefused()
    {
        var window = new ConvolutionWindow(2, 4, 4, 3, 1, 1);
        var x = new short[window.InputLength];
        Assert.Throws<ArgumentException>(() => window.Rows(x.AsSpan(1), 0, 1, new short[window.Depth].AsSpan(), window.Depth, new Identity()));
        Assert.Throws<ArgumentOutOfRangeException>(() => window.Rows(x, 0, 2, new short[2 * window.Depth - 1].AsSpan(), window.Depth, new Identity()));
        Assert.Throws<ArgumentOutOfRangeException>(() => window.Rows(x, window.Positions, 1, new short[window.Depth * 20].AsSpan(), window.Depth, new Identity()));
    }

    /// <summary>im2col index by index: (channel, ky, kx) order, 0 where the window pads.</summary>
    private static short[] Reference(short[] x, int channels, int height, int width, int kernel, int stride, int padding, int ldx, out int positions)
    {
        int outHeight = (height + 2 * padding - kernel) / stride + 1, outWidth = (width + 2 * padding - kernel) / stride + 1;
        positions = outHeight * outWidth;
        var rows = new short[positions * ldx];
        for (int oy = 0; oy < outHeight; oy++)
            for (int ox = 0; ox < outWidth; ox++)
                for (int c = 0; c < channels; c++)
                    for (int ky = 0; ky < kernel; ky++)
                        for (int kx = 0; kx < kernel; kx++)
                        {
                            int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                            bool inside = iy >= 0 && iy < height && ix >= 0 && ix < width;
                            rows[(oy * outWidth + ox) * ldx + (c * kernel + ky) * kernel + kx] = inside ? x[(c * height + iy) * width + ix] : (short)0;
                        }
        return rows;
    }

    private readonly struct Identity : IRowElement<short, short>
    {
        public short Pad => 0;
        public short From(short value) => value;
    }

    private readonly struct Shifted : IRowElement<short, float>
    {
        public float Pad => -1f;
        public float From(short value) => value + 10f;
    }
}
