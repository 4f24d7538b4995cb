using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Schemes;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>
/// An activation quantizer (<see cref="NodeKind.Quantize"/>, or the recurrent state of an LSTM). In training
/// it fits its scheme's grid to each batch (a sample of it, <see cref="QuantizerScheme.QuantizeActivation"/>) and quantizes with a straight-through gradient. Calibration
/// (<see cref="BeginCalibration"/>, forward passes, <see cref="EndCalibration"/>) fits one grid to a sample
/// of the values seen, as large as a training batch's, and freezes it as buffers, saved with the module; eval mode then quantizes with that grid,
/// so a score does not depend on the other examples of its batch and integer kernels can use the codes.
/// Before calibration, eval mode fits per batch to every value of the batch, deterministically.
/// </summary>
internal sealed class ActivationQuantizer : Module<Tensor, Tensor>
{
    private readonly QuantizerScheme scheme;
    private readonly int bits;
    // Buffers (registered from the fields): the frozen per-tensor grid and a 0/1 flag.
    private readonly Tensor calibrated, scales, levels, thresholds, code_order;
    private List<Tensor>? observed;
    private const ulong CalibrationSeed = 0x5EED;

    public ActivationQuantizer(string name, QuantizerSpec spec) : base(name)
    {
        scheme = QuantizerScheme.For(spec.Scheme);
        bits = spec.Bits;
        // The grid's shape depends only on the scheme and bits: fit once to a placeholder to size the buffers.
        using var shape = scheme.Fit(linspace(-1, 1, 256), bits, QuantizationGranularity.PerTensor);
        calibrated = zeros(1);
        scales = ones(1, 1);
        levels = zeros_like(shape.Levels);
        thresholds = zeros_like(shape.Thresholds);
        code_order = arange(shape.Levels.shape[1], dtype: int64).unsqueeze(0);
        RegisterComponents();
    }

    /// <summary>Whether a frozen grid is in use outside training.</summary>
    public bool IsCalibrated => calibrated.item<float>() == 1f;

    /// <summary>The frozen grid (after calibration).</summary>
    public GridTensors FrozenGrid() => new(bits, scales, levels, thresholds, code_order);

    /// <summary>Starts collecting the inputs of the following forward passes.</summary>
    public void BeginCalibration() => observed = new List<Tensor>();

    /// <summary>Fits the grid to everything collected since <see cref="BeginCalibration"/> and freezes it.</summary>
    public void EndCalibration()
    {
        if (observed is null || observed.Count == 0) throw new InvalidOperationException($"Quantizer '{GetName()}' saw no values during calibration.");
        // Its own scope: the flattened views share the collected inputs' storage, and in the caller's scope they
        // kept every round's inputs alive until the caller's rounds ended.
        using var scope = NewDisposeScope();
        using (var _ = no_grad())
        // Fitted to a random sample of the size training fits to, so that range-based grids (ZoomQ, FixedQ, PotQ)
        // see the statistics they were trained with rather than the extreme of every value seen. Its own seed keeps
        // the grid independent of what else drew random numbers before (a resumed run draws fewer).
        using (var all = cat(observed.Select(t => t.reshape(-1)).ToList()))
        using (var generator = new Generator(CalibrationSeed))
        using (var sample = QuantizerScheme.ActivationSample(all, generator))
        using (var grid = scheme.Fit(sample, bits, QuantizationGranularity.PerTensor))
        {
            scales.copy_(grid.Scales);
            levels.copy_(grid.Levels);
            thresholds.copy_(grid.Thresholds);
            if (grid.CodeOrder is not null) code_order.copy_(grid.CodeOrder);
            else code_order.copy_(arange(code_order.shape[1], dtype: int64).unsqueeze(0));
            calibrated.fill_(1);
        }
        foreach (var t in observed) t.Dispose();
        observed = null;
    }

    public override Tensor forward(Tensor x)
    {
        if (observed is not null) observed.Add(x.detach().cpu().DetachFromDisposeScope());
        if (training) return scheme.QuantizeActivation(x, bits);
        if (!IsCalibrated) return scheme.Quantize(x, bits); // a recalibration runs on the previous frozen grid
        using var scope = NewDisposeScope();
        using var grid = FrozenGrid();
        return grid.Quantize(x.reshape(1, -1)).reshape(x.shape).MoveToOuterDisposeScope();
    }
}
