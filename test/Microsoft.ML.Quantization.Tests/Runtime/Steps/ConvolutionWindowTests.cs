using Microsoft.ML.Quantization.Runtime.Steps;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Runtime.Steps;

/// <summary>
/// The window's im2col rows, copied from its padded plane, equal those of an index-by-index reference, over random shapes and
/// element sizes (whole-vector copies of short runs must never reach a row outside the range asked for), in (channel, ky, kx)
/// order and with the channels interleaved, (ky, kx, channel).
/// </summary>
public class ConvolutionWindowTests
{
    [Theory]
    [InlineData(3, 20, 18, 7, 2, 3)] // a stem: the window hangs 3 pixels over every border
    [InlineData(5, 9, 9, 3, 1, 1)]
    [InlineData(2, 8, 11, 3, 2, 0)]
    [InlineData(4, 6, 5, 5, 1, 4)] // padding at the kernel's size less one: whole rows outside, corner windows holding one input
    [InlineData(1, 4, 4, 1, 1, 0)] // one-element rows: no vector fits within the depth
    [InlineData(6, 7, 3, 3, 3, 2)]
    [InlineData(2, 30, 30, 11, 4, 5)] // 11-element runs: 22 bytes as shorts, 44 as floats (two 32-byte vectors)
    [InlineData(9, 12, 12, 8, 1, 3)] // 8-element runs: 32 bytes as floats
    [InlineData(3, 20, 18, 7, 2, 3, true)] // a stem, interleaved: runs of 21 (bytes in one vector, shorts in two, floats copied)
    [InlineData(2, 8, 11, 3, 2, 0, true)]
    [InlineData(4, 6, 5, 5, 1, 4, true)]
    [InlineData(16, 5, 7, 2, 1, 1, true)] // runs of 32: 64 bytes as shorts
    public void RowsEqualTheReferenceGatherForEveryPositionRange(int channels, int height, int width, int kernel, int stride, int padding, bool interleaved = false)
    {
        var random = new Random(channels * 1009 + height * 31 + kernel * 7 + stride + padding);
        var window = new ConvolutionWindow(channels, height, width, kernel, stride, padding, interleaved);
        var x = Enumerable.Range(0, window.InputLength + 5).Select(_ => (short)random.Next(-300, 300)).ToArray();
        int ldx = window.Depth + random.Next(0, 3);
        var expected = Reference(x, channels, height, width, kernel, stride, padding, ldx, interleaved, out int positions);
        Assert.Equal(positions, window.Positions);
        AssertRows(window, x, new Identity(), expected, ldx, (short)-7, (short)0);
        AssertRows(window, x, new AsByte(), expected.Select(v => (byte)v).ToArray(), ldx, (byte)7, (byte)0);
        AssertRows(window, x, new AsFloat(), expected.Select(v => (float)v).ToArray(), ldx, -7f, 0f);
        AssertPairs(window, x, expected, ldx, interleaved ? kernel * channels : kernel);
    }

    /// <summary>
    /// Read in place (an int16 product's pairs), each row element is at its paired column's pair offset from the position's
    /// start, every column a pair reads lies within the plane, and the columns no element takes are one per odd run (of
    /// <paramref name="run"/> elements); runs of one are read as gathered rows.
    /// </summary>
    private static void AssertPairs(ConvolutionWindow window, short[] x, short[] expected, int ldx, int run)
    {
        var plane = new short[window.PlaneLength];
        window.Pad(x, plane, new Identity());
        int[] columns = window.PairedColumns(), offsets = window.PairOffsets(), starts = window.PositionStarts();
        Assert.Equal(window.PairedDepth, 2 * offsets.Length);
        Assert.Equal(window.Depth, columns.Distinct().Count());
        Assert.Equal(run % 2 == 1 ? window.Depth / run : 0, window.PairedDepth - window.Depth);
        Assert.Equal(run > 1, window.PairsInPlace);
        for (int p = 0; p < window.Positions; p++)
        {
            Assert.True(starts[p] + offsets.Max() + 2 <= plane.Length, $"position {p} reads past the plane");
            for (int i = 0; i < window.Depth; i++)
                Assert.True(expected[p * ldx + i] == plane[starts[p] + offsets[columns[i] / 2] + columns[i] % 2], $"position {p}, element {i} read in place");
        }
    }

    /// <summary>Every position, then a range that starts and ends inside the map (one thread's share): rows outside it untouched, columns past the depth zero.</summary>
    private static void AssertRows<T, TElement>(ConvolutionWindow window, short[] x, TElement element, T[] expected, int ldx, T untouched, T zero)
        where T : unmanaged, IEquatable<T> where TElement : struct, IRowElement<short, T>
    {
        int positions = window.Positions;
        var plane = new T[window.PlaneLength];
        window.Pad(x, plane, element);
        foreach (var (start, count) in new[] { (0, positions), (positions / 3, positions / 2) })
        {
            var rows = Enumerable.Repeat(untouched, positions * ldx).ToArray();
            window.Rows<T>(plane, start, count, rows, ldx);
            for (int p = 0; p < positions; p++)
                for (int k = 0; k < ldx; k++)
                {
                    T want = p < start || p >= start + count ? untouched : k < window.Depth ? expected[p * ldx + k] : zero;
                    Assert.True(want.Equals(rows[p * ldx + k]), $"{typeof(T).Name}, position {p}, element {k}: {rows[p * ldx + k]}, expected {want}");
                }
        }
    }

    [Fact]
    public void PaddingTakesTheElementsPadValue()
    {
        var window = new ConvolutionWindow(1, 2, 2, 3, 1, 1);
        var plane = new float[window.PlaneLength];
        window.Pad(new short[] { 1, 2, 3, 4 }, plane, new Shifted());
        var rows = new float[window.Positions * window.Depth];
        window.Rows<float>(plane, 0, window.Positions, rows, window.Depth);
        // Position (0, 0): the window's first row and column hang over the border.
        Assert.Equal(new float[] { -1, -1, -1, -1, 11, 12, -1, 13, 14 }, rows[..9]);
    }

    [Fact]
    public void InputsPlanesAndRowsThatDoNotFitAreRefused()
    {
        var window = new ConvolutionWindow(2, 4, 4, 3, 1, 1);
        var x = new short[window.InputLength];
        var plane = new short[window.PlaneLength];
        Assert.Throws<ArgumentException>(() => window.Pad(x.AsSpan(1), plane, new Identity()));
        Assert.Throws<ArgumentException>(() => window.Pad(x, plane.AsSpan(1), new Identity()));
        Assert.Throws<ArgumentException>(() => window.Rows<short>(plane.AsSpan(1), 0, 1, new short[window.Depth], window.Depth));
        Assert.Throws<ArgumentOutOfRangeException>(() => window.Rows<short>(plane, 0, 2, new short[2 * window.Depth - 1], window.Depth));
        Assert.Throws<ArgumentOutOfRangeException>(() => window.Rows<short>(plane, window.Positions, 1, new short[window.Depth * 20], window.Depth));
    }

    /// <summary>Rows that end at the last one's depth, as the bounds check allows, are written no further, padded columns included.</summary>
    [Fact]
    public void RowsEndingAtTheLastDepthAreNotWrittenPast()
    {
        var window = new ConvolutionWindow(1, 4, 4, 3, 1, 1);
        int ldx = window.Depth + 3, count = 5, length = (count - 1) * ldx + window.Depth;
        var plane = new short[window.PlaneLength];
        window.Pad(Enumerable.Range(1, window.InputLength).Select(v => (short)v).ToArray(), plane, new Identity());
        var rows = Enumerable.Repeat((short)-9, length + ldx).ToArray();
        window.Rows<short>(plane, 0, count, rows.AsSpan(0, length), ldx);
        Assert.All(rows[length..], v => Assert.Equal(-9, v));
        Assert.Equal(0, rows[ldx - 1]); // an earlier row's padded columns are zeroed
    }

    /// <summary>im2col index by index: (channel, ky, kx) order, or (ky, kx, channel) <paramref name="interleaved"/>, 0 where the window pads.</summary>
    private static short[] Reference(short[] x, int channels, int height, int width, int kernel, int stride, int padding, int ldx, bool interleaved, out int positions)
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
                            int k = interleaved ? (ky * kernel + kx) * channels + c : (c * kernel + ky) * kernel + kx;
                            rows[(oy * outWidth + ox) * ldx + k] = inside ? x[(c * height + iy) * width + ix] : (short)0;
                        }
        return rows;
    }

    private readonly struct Identity : IRowElement<short, short>
    {
        public short Pad => 0;
        public short From(short value) => value;
    }

    private readonly struct AsByte : IRowElement<short, byte>
    {
        public byte Pad => 0;
        public byte From(short value) => (byte)value;
    }

    private readonly struct AsFloat : IRowElement<short, float>
    {
        public float Pad => 0f;
        public float From(short value) => value;
    }

    private readonly struct Shifted : IRowElement<short, float>
    {
        public float Pad => -1f;
        public float From(short value) => value + 10f;
    }
}
