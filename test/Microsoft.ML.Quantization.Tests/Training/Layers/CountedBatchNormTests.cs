using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Training.Layers;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Training.Layers;

/// <summary>
/// The library's BatchNorm gives TorchSharp's outputs, running statistics and batch count bit for bit: in training with
/// the default momentum and with none (the cumulative average re-estimation uses), then in evaluation, over maps and features.
/// </summary>
public class CountedBatchNormTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void MatchesTorchSharpsBatchNorm(bool map)
    {
        using var scope = NewDisposeScope();
        var counted = new CountedBatchNorm(6, 1e-5, map);
        TorchSharp.Modules.BatchNorm reference = map ? nn.BatchNorm2d(6, 1e-5) : nn.BatchNorm1d(6, 1e-5);
        var generator = new Generator(11);
        using (no_grad())
            foreach (var module in new TorchSharp.Modules.BatchNorm[] { counted, reference })
            {
                module.weight!.copy_(linspace(0.5, 1.5, 6));
                module.bias!.copy_(linspace(-0.3, 0.3, 6));
            }
        long[] shape = map ? new long[] { 5, 6, 4, 3 } : new long[] { 7, 6 };
        for (int step = 0; step < 5; step++)
        {
            if (step == 3) counted.momentum = reference.momentum = null; // the cumulative average from here on
            var x = randn(shape, generator: generator).Times(step + 1);
            Assert.Equal(reference.call(x).data<float>().ToArray(), counted.call(x).data<float>().ToArray());
        }
        Assert.Equal(5, counted.num_batches_tracked!.item<long>());
        Assert.Equal(reference.num_batches_tracked!.item<long>(), counted.num_batches_tracked.item<long>());
        Assert.Equal(reference.running_mean!.data<float>().ToArray(), counted.running_mean!.data<float>().ToArray());
        Assert.Equal(reference.running_var!.data<float>().ToArray(), counted.running_var!.data<float>().ToArray());
        Assert.NotEqual(zeros(6).data<float>().ToArray(), counted.running_mean.data<float>().ToArray());
        counted.eval();
        reference.eval();
        var y = randn(shape, generator: generator);
        Assert.Equal(reference.call(y).data<float>().ToArray(), counted.call(y).data<float>().ToArray());
        Assert.Equal(reference.state_dict().Keys.OrderBy(k => k), counted.state_dict().Keys.OrderBy(k => k));
        Assert.Throws<ArgumentException>(() => counted.call(randn(map ? new long[] { 2, 6 } : new long[] { 2, 6, 3, 3 })));
    }
}
