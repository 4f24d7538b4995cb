using Microsoft.ML.Quantization.Training.Layers;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Training.Layers;

public class ActivationQuantizerTests
{
    [Fact]
    public void CalibrationFitsASampleSoOneExtremeValueDoesNotSetTheRange()
    {
        random.manual_seed(1);
        using var quantizer = new ActivationQuantizer("q", new QuantizerSpec(QuantizationScheme.ZoomQ, 2));
        quantizer.eval();
        var values = randn(4, 250_000).abs(); // a million values, like 512 examples of a conv input
        values[2, 123] = 1000f;
        quantizer.BeginCalibration();
        using (no_grad()) quantizer.call(values);
        quantizer.EndCalibration();
        using var grid = quantizer.FrozenGrid();
        float top = (grid.Levels.max() * grid.Scales.max()).item<float>();
        Assert.InRange(top, 3f, 10f); // the bulk's range (|N(0,1)| tops out near 5), not 1000
        Assert.True(quantizer.IsCalibrated);
    }

    [Fact]
    public void EndingCalibrationLeavesNothingInTheCallersDisposeScope()
    {
        // Calibration runs inside the trainer's scope, round after round: a view left there holds its input's storage.
        random.manual_seed(2);
        using var scope = NewDisposeScope();
        using var quantizer = new ActivationQuantizer("q", new QuantizerSpec(QuantizationScheme.ClipQ, 3));
        quantizer.eval();
        var inputs = Enumerable.Range(0, 10).Select(_ => randn(8, 1000)).ToList();
        quantizer.BeginCalibration();
        using (no_grad()) foreach (var x in inputs) quantizer.call(x).Dispose();
        long before = scope.DisposablesCount;
        quantizer.EndCalibration();
        Assert.Equal(before, scope.DisposablesCount);
        Assert.True(quantizer.IsCalibrated);
    }
}
