using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Training.Layers;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Training.Layers;

/// <summary>
/// The training convolution against libtorch's FP64 convolution (which oneDNN does not compute): outputs and the gradients
/// of input, weight and bias, over channel counts that fill oneDNN's 16-channel blocks and counts that do not. On the Zen 5
/// host, libtorch's own FP32 convolution (this class without its zero channels) failed this check on 24 of these 45 shapes.
/// </summary>
public class BlockAlignedConvolutionTests
{
    public static TheoryData<int, int, int, int, int> Shapes()
    {
        var shapes = new TheoryData<int, int, int, int, int>();
        foreach (int inChannels in new[] { 1, 3, 4, 8, 16, 24, 40 })
        foreach (int outChannels in new[] { 1, 4, 8, 16, 17, 24 })
            shapes.Add(inChannels, outChannels, 1 + 2 * ((inChannels + outChannels) % 3), 1 + (inChannels * outChannels) % 2, 1);
        shapes.Add(16, 16, 3, 1, 16); // depthwise
        shapes.Add(8, 24, 3, 2, 4);
        shapes.Add(24, 8, 5, 1, 2);
        return shapes;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesTheDoublePrecisionConvolutionAndItsGradients(int inChannels, int outChannels, int kernel, int stride, int groups)
    {
        random.manual_seed(inChannels * 100 + outChannels);
        for (int trial = 0; trial < 3; trial++) // oneDNN's fault read whatever memory held, so one clean run proved little
        {
            var x = randn(3, inChannels, 13, 11).requires_grad_(true);
            var weight = randn(outChannels, inChannels / groups, kernel, kernel).Times(0.3).requires_grad_(true);
            var bias = randn(outChannels).requires_grad_(true);
            var y = BlockAlignedConvolution.Conv2d(x, weight, bias, stride, kernel / 2, groups);
            var upstream = randn_like(y);
            (y * upstream).sum().backward();

            var x64 = x.detach().to(float64).requires_grad_(true);
            var weight64 = weight.detach().to(float64).requires_grad_(true);
            var bias64 = bias.detach().to(float64).requires_grad_(true);
            var expected = nn.functional.conv2d(x64, weight64, bias64, new long[] { stride, stride }, new long[] { kernel / 2, kernel / 2 }, groups: groups);
            (expected * upstream.to(float64)).sum().backward();

            Assert.Equal(expected.shape, y.shape);
            AssertClose(expected, y, "output", trial);
            AssertClose(x64.grad!, x.grad!, "input gradient", trial);
            AssertClose(weight64.grad!, weight.grad!, "weight gradient", trial);
            AssertClose(bias64.grad!, bias.grad!, "bias gradient", trial);
        }
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what, int trial)
    {
        double scale = 1 + expected.abs().max().item<double>();
        double error = (actual.to(float64) - expected).abs().max().item<double>();
        Assert.True(error < 1e-4 * scale, $"{what} off by {error} (largest {scale - 1}) in trial {trial}");
    }
}
