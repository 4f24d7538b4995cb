using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Training.Layers;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Training.Layers;

public class QuantActivationTests
{
    [Fact]
    public void CalibrationFitsASampleSoOneExtremeValueDoesNotSetTheRange()
    {
        random.manual_seed(1);
        using var quantizer = new QuantActivation("q", new QuantizerSpec(QuantizationScheme.ZoomQ, 2));
        quantizer.eval();
        var values = randn(4, 250_000).abs(); // a million values, like 512 examples of a conv input
        values[2, 123] = 1000f;
        Calibrate(quantizer, values);
        using var grid = quantizer.FrozenGrid();
        float top = (grid.Levels.max() * grid.Scales.max()).item<float>();
        Assert.InRange(top, 3f, 10f); // the bulk's range (|N(0,1)| tops out near 5), not 1000
        Assert.True(quantizer.IsCalibrated);
    }

    [Fact]
    public void CalibrationLeavesNothingInTheCallersDisposeScope()
    {
        // Calibration runs inside the trainer's scope, round after round: a view left there holds its input's storage.
        random.manual_seed(2);
        using var scope = NewDisposeScope();
        using var quantizer = new QuantActivation("q", new QuantizerSpec(QuantizationScheme.ClipQ, 3));
        quantizer.eval();
        var inputs = Enumerable.Range(0, 10).Select(_ => randn(8, 1000)).ToList();
        long before = scope.DisposablesCount;
        Calibrate(quantizer, inputs.ToArray());
        Assert.Equal(before, scope.DisposablesCount);
        Assert.True(quantizer.IsCalibrated);
    }

    [Fact]
    public void TheTwoPassSampleIsTheOneDrawnFromEveryValueSeen()
    {
        // Holding only the drawn positions must give the grid that fitting a sample of all the values gave.
        random.manual_seed(3);
        using var quantizer = new QuantActivation("q", new QuantizerSpec(QuantizationScheme.ZoomQ, 3));
        quantizer.eval();
        var inputs = new[] { randn(3, 20_000), randn(5, 9_000).abs(), randn(2, 11_111).Times(3) }; // 137,222 values, over the sample size
        Calibrate(quantizer, inputs);
        using var generator = new Generator(0x5EED);
        using var all = cat(inputs.Select(x => x.reshape(-1)).ToList());
        using var sample = SchemeMath.ActivationSample(all, generator);
        using var expected = SchemeMath.For(QuantizationScheme.ZoomQ).Fit(sample, 3, QuantizationGranularity.PerTensor);
        using var grid = quantizer.FrozenGrid();
        Assert.Equal(expected.Scales.data<float>().ToArray(), grid.Scales.data<float>().ToArray());
        Assert.Equal(expected.Levels.data<float>().ToArray(), grid.Levels.data<float>().ToArray());
        Assert.Equal(expected.Thresholds.data<float>().ToArray(), grid.Thresholds.data<float>().ToArray());
    }

    [Fact]
    public void ASamplingPassOverOtherInputsIsRefused()
    {
        using var quantizer = new QuantActivation("q", new QuantizerSpec(QuantizationScheme.ClipQ, 2));
        quantizer.eval();
        quantizer.BeginCalibration();
        using (no_grad()) quantizer.call(randn(4, 100)).Dispose();
        quantizer.BeginSampling();
        using (no_grad()) quantizer.call(randn(3, 100)).Dispose();
        var error = Assert.Throws<InvalidOperationException>(quantizer.EndCalibration);
        Assert.Contains("saw 300 values, the counting pass 400", error.Message);
        Assert.False(quantizer.IsCalibrated);
        Assert.Throws<InvalidOperationException>(quantizer.BeginSampling); // the failed calibration left nothing to sample
    }

    [Fact]
    public void ResamplingTheSameInputsFitsTheGridACountedCalibrationFits()
    {
        random.manual_seed(12);
        var inputs = new[] { randn(300, 400), randn(200, 400).Times(2) };
        using var counted = new QuantActivation("q", new QuantizerSpec(QuantizationScheme.ZoomQ, 3));
        using var resampled = new QuantActivation("q", new QuantizerSpec(QuantizationScheme.ZoomQ, 3));
        counted.eval();
        resampled.eval();
        Assert.Throws<InvalidOperationException>(resampled.BeginResampling); // nothing counted yet
        Calibrate(resampled, randn(500, 400)); // other values, the same count
        resampled.BeginResampling();
        using (no_grad()) foreach (var x in inputs) resampled.call(x).Dispose();
        resampled.EndCalibration();
        Calibrate(counted, inputs);
        AssertSameGrid(counted, resampled);

        resampled.BeginResampling();
        using (no_grad()) resampled.call(randn(100, 400)).Dispose();
        var error = Assert.Throws<InvalidOperationException>(resampled.EndCalibration);
        Assert.Contains("saw 40000 values, the counting pass 200000", error.Message);
    }

    /// <summary>Calibration as GraphModule runs it: a counting pass and a sampling pass over the same inputs.</summary>
    [Fact]
    public void ACountScaledFromTheFirstExamplesFitsTheGridACountOfAllFits()
    {
        random.manual_seed(13);
        var inputs = new[] { randn(64, 300), randn(64, 300).Times(2), randn(22, 300).abs() }; // 150 examples of 300 values
        using var counted = new QuantActivation("q", new QuantizerSpec(QuantizationScheme.ZoomQ, 3));
        using var scaled = new QuantActivation("q", new QuantizerSpec(QuantizationScheme.ZoomQ, 3));
        counted.eval();
        scaled.eval();
        Assert.Throws<InvalidOperationException>(() => scaled.ScaleCount(64, 150)); // no counting pass
        scaled.BeginCalibration();
        using (no_grad()) scaled.call(inputs[0]).Dispose();
        scaled.ScaleCount(64, 150);
        scaled.BeginSampling();
        using (no_grad()) foreach (var x in inputs) scaled.call(x).Dispose();
        scaled.EndCalibration();
        Calibrate(counted, inputs);
        AssertSameGrid(counted, scaled);

        scaled.BeginCalibration();
        using (no_grad()) scaled.call(randn(7, 300)).Dispose();
        var error = Assert.Throws<InvalidOperationException>(() => scaled.ScaleCount(8, 150)); // 2,100 values are not 8 equal examples
        Assert.Contains("not as many per example", error.Message);
    }

    /// <summary>The two quantizers froze the same grid: its scales and levels equal bit for bit.</summary>
    private static void AssertSameGrid(QuantActivation expected, QuantActivation actual)
    {
        using var want = expected.FrozenGrid();
        using var got = actual.FrozenGrid();
        Assert.Equal(want.Scales.data<float>().ToArray(), got.Scales.data<float>().ToArray());
        Assert.Equal(want.Levels.data<float>().ToArray(), got.Levels.data<float>().ToArray());
    }

    private static void Calibrate(QuantActivation quantizer, params Tensor[] inputs)
    {
        quantizer.BeginCalibration();
        using (no_grad()) foreach (var x in inputs) quantizer.call(x).Dispose();
        quantizer.BeginSampling();
        using (no_grad()) foreach (var x in inputs) quantizer.call(x).Dispose();
        quantizer.EndCalibration();
    }
}
