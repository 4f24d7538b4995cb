using Microsoft.ML.Quantization.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Training;

public class GraphModuleCalibrationTests
{
    [Fact]
    public void StaleBatchNormStatisticsAreReestimated()
    {
        random.manual_seed(4);
        using var module = new GraphModule(Qag.Prepare(NetworkGraphs.VggSmall()));
        var norm = module.modules().OfType<TorchSharp.Modules.BatchNorm>().First();
        using (no_grad())
        {
            norm.running_mean!.fill_(100);
            norm.running_var!.fill_(1e-4f);
        }
        var examples = rand(300, 1, 28, 28);
        module.ReestimateBatchNorm(examples, batchSize: 128);
        module.Calibrate(examples, batchSize: 128);

        // conv1's output as the calibrated network computes it: BatchNorm's new mean is its plain mean per channel.
        using var _ = no_grad();
        var mean = module.Run(examples)["conv1"].mean(new long[] { 0, 2, 3 });
        float gap = (norm.running_mean! - mean).abs().max().item<float>(), scale = mean.abs().max().item<float>() + 1e-3f;
        Assert.True(gap < 0.05f * scale, $"running mean off by {gap} (scale {scale})");
        Assert.True(norm.running_var!.min().item<float>() > 1e-3f);
        Assert.Equal(0.1, norm.momentum); // restored
        Assert.False(module.training);
    }
}
