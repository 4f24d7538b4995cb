using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Runtime.Steps;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Runtime.Steps;

/// <summary>
/// Max pooling, done separably on vectors, equals a window-by-window reference bit for bit, NaN and signed zeros included;
/// also with the ReLU before it taken on the maxima, and written channels-last.
/// </summary>
public class PoolingStepTests
{
    [Theory]
    [InlineData(64, 23, 21, 3, 2, 1, 1, false, false)] // a stem's pool, odd sizes
    [InlineData(5, 8, 8, 2, 2, 0, 1, false, false)]
    [InlineData(16, 40, 72, 3, 1, 1, 2, false, false)] // rows wider than a vector, two threads (work enough to split)
    [InlineData(7, 6, 5, 5, 3, 2, 2, false, false)]
    [InlineData(2, 1, 1, 1, 1, 0, 1, false, false)]
    [InlineData(8, 37, 45, 3, 2, 1, 1, false, false)] // a stem's pool 23 windows wide: 16 on vectors (stride 2, one permute), the rest one by one
    [InlineData(4, 20, 70, 2, 2, 0, 2, false, false)] // VggSmall's pool, 35 windows wide
    [InlineData(5, 8, 8, 2, 2, 0, 1, true, false)]
    [InlineData(64, 23, 21, 3, 2, 1, 1, true, true)] // a stem's pool channels-last: 8 channels at a time, 11 pixels a row (8 transposed, 3 one by one)
    [InlineData(16, 40, 72, 3, 1, 1, 2, true, true)] // channels-last on two threads, which share the output rows
    [InlineData(7, 6, 5, 5, 3, 2, 2, false, true)] // channels-last, one channel at a time
    public void MaxPoolEqualsTheWindowByWindowReference(int channels, int height, int width, int kernel, int stride, int padding, int threads, bool relu, bool channelsLast)
    {
        var random = new Random(channels * 131 + height * 17 + width + kernel);
        var x = Enumerable.Range(0, channels * height * width).Select(i => (i % 37) switch
        {
            0 => float.NaN,
            1 => -0f,
            2 => 0f,
            _ => (float)(random.NextDouble() * 4 - 3),
        }).ToArray();
        int outHeight = (height + 2 * padding - kernel) / stride + 1, outWidth = (width + 2 * padding - kernel) / stride + 1;
        var inputSlot = new ValueSlot(0, new[] { channels, height, width }, null);
        var outputSlot = new ValueSlot(1, new[] { channels, outHeight, outWidth }, null, channelsLast ? SlotLayout.ChannelsLast : SlotLayout.Floats);
        var ws = new Workspace(new[] { inputSlot, outputSlot }) { Threads = threads };
        x.CopyTo(ws.Floats(inputSlot), 0);

        new PoolingStep("pool", NodeKind.MaxPool, inputSlot, outputSlot, kernel, stride, padding, relu).Run(ws);

        var y = ws.Floats(outputSlot);
        for (int c = 0; c < channels; c++)
            for (int oy = 0; oy < outHeight; oy++)
                for (int ox = 0; ox < outWidth; ox++)
                {
                    float want = float.NegativeInfinity;
                    for (int ky = 0; ky < kernel; ky++)
                        for (int kx = 0; kx < kernel; kx++)
                        {
                            int iy = oy * stride - padding + ky, ix = ox * stride - padding + kx;
                            if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
                            float value = x[(c * height + iy) * width + ix];
                            want = Math.Max(want, relu ? Math.Max(value, 0f) : value); // the ReLU first, as the graph has it
                        }
                    float got = y[channelsLast ? (oy * outWidth + ox) * channels + c : (c * outHeight + oy) * outWidth + ox];
                    Assert.True(BitConverter.SingleToInt32Bits(want) == BitConverter.SingleToInt32Bits(got) || (float.IsNaN(want) && float.IsNaN(got)),
                        $"channel {c} ({oy}, {ox}): {got}, expected {want}");
                }
    }
}
