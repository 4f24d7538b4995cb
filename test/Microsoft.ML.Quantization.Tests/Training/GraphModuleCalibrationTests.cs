using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
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
            norm.running_mean!.FillInPlace(100);
            norm.running_var!.FillInPlace(1e-4f);
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

    [Fact]
    public void RecalibratingInOnePassMatchesReestimatingThenCalibrating()
    {
        // In one batch, BatchNorm's batch statistics are its re-estimated ones (up to the variance's n/(n-1)), so the
        // one-pass recalibration refits the grids the two separate steps fit.
        random.manual_seed(7);
        var graph = Qag.Prepare(NetworkGraphs.VggSmall(), new QagOptions { Activations = new(QuantizationScheme.ZoomQ, 3) });
        using var separate = new GraphModule(graph);
        using var together = new GraphModule(graph);
        together.load_state_dict(separate.state_dict());
        var examples = rand(96, 1, 28, 28);
        separate.Calibrate(examples, batchSize: 96);
        together.Calibrate(examples, batchSize: 96);
        separate.ReestimateBatchNorm(examples, batchSize: 96);
        separate.Calibrate(examples, batchSize: 96);
        together.Recalibrate(examples, batchSize: 96);

        var pairs = separate.ActivationQuantizers.Zip(together.ActivationQuantizers).ToList();
        Assert.NotEmpty(pairs);
        foreach (var (a, b) in pairs)
        {
            float expected = a.FrozenGrid().Scales.item<float>(), actual = b.FrozenGrid().Scales.item<float>();
            Assert.True(Math.Abs(expected - actual) <= 0.02f * Math.Abs(expected), $"{a.GetName()}: scale {actual}, two steps {expected}");
        }
        var norms = separate.modules().OfType<TorchSharp.Modules.BatchNorm>().Zip(together.modules().OfType<TorchSharp.Modules.BatchNorm>());
        foreach (var (a, b) in norms) Assert.True(a.running_mean!.allclose(b.running_mean!, 1e-4, 1e-5));
        Assert.False(together.training);
        Assert.Throws<InvalidOperationException>(() => together.Recalibrate(examples.narrow(0, 0, 64), batchSize: 64)); // other examples
    }

    [Fact]
    public void EachGridIsFittedToASampleOfEveryValueItsQuantizerSaw()
    {
        // The two calibration passes hold a sample, not every value; the grids must be those the sample of all gives.
        random.manual_seed(5);
        using var module = new GraphModule(Qag.Prepare(NetworkGraphs.VggSmall()));
        module.eval();
        var examples = rand(200, 1, 28, 28);
        var quantizeNodes = module.Graph.Nodes.Where(n => n.Kind == NodeKind.Quantize).ToList();
        var seen = quantizeNodes.ToDictionary(n => n.Name, _ => new List<Tensor>());
        using (no_grad())
            for (long start = 0; start < 200; start += 64)
            {
                var outputs = module.Run(examples.narrow(0, start, Math.Min(64, 200 - start)));
                foreach (var node in quantizeNodes) seen[node.Name].Add(outputs[node.Inputs[0]].reshape(-1));
            }
        module.Calibrate(examples, batchSize: 64);

        var quantizers = module.ActivationQuantizers.ToDictionary(q => q.GetName());
        foreach (var node in quantizeNodes)
        {
            using var all = cat(seen[node.Name]);
            Assert.True(all.numel() > SchemeMath.ActivationSampleSize); // the sample is drawn, not every value
            using var generator = new Generator(0x5EED);
            using var sample = SchemeMath.ActivationSample(all, generator);
            var spec = node.ActivationQuantizer!;
            using var expected = SchemeMath.For(spec.Scheme).Fit(sample, spec.Bits, QuantizationGranularity.PerTensor);
            using var grid = quantizers[node.Name.Replace('.', '_')].FrozenGrid();
            Assert.Equal(expected.Scales.data<float>().ToArray(), grid.Scales.data<float>().ToArray());
            Assert.Equal(expected.Levels.data<float>().ToArray(), grid.Levels.data<float>().ToArray());
        }
    }
}
