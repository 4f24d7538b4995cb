using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>
/// An activation quantizer (<see cref="NodeKind.Quantize"/>, or the recurrent state of an LSTM). In training
/// it fits its scheme's grid to each batch (a sample of it, <see cref="SchemeMath.QuantizeActivation"/>) and quantizes with a straight-through gradient. Calibration
/// (<see cref="BeginCalibration"/>, forward passes, optionally <see cref="ScaleCount"/>, <see cref="BeginSampling"/>, the passes over every input, <see cref="EndCalibration"/>)
/// fits one grid to a sample of the values seen, as large as a training batch's, and freezes it as buffers, saved with the module; eval mode then quantizes with that grid,
/// so a score does not depend on the other examples of its batch and integer kernels can use the codes.
/// Before calibration, eval mode fits per batch to every value of the batch, deterministically.
/// </summary>
internal sealed class QuantActivation : Module<Tensor, Tensor>
{
    private readonly SchemeMath scheme;
    private readonly int bits;
    // Buffers (registered from the fields): the frozen per-tensor grid and a 0/1 flag.
    private readonly Tensor calibrated, scales, levels, thresholds, code_order;
    // Calibration: the first pass counts the values; the second gathers the sample drawn among them.
    private long? counted, lastCount;
    private Tensor? picks, sample;
    private long gathered;
    private const ulong CalibrationSeed = 0x5EED;

    public QuantActivation(string name, QuantizerSpec spec) : base(name)
    {
        scheme = SchemeMath.For(spec.Scheme);
        bits = spec.Bits;
        // The grid's shape depends only on the scheme and bits: fit once to a placeholder to size the buffers.
        using var shape = scheme.Fit(linspace(-1, 1, 256), bits, QuantizationGranularity.PerTensor);
        calibrated = zeros(1);
        scales = ones(1, 1);
        levels = zeros_like(shape.Levels);
        thresholds = zeros_like(shape.Thresholds);
        code_order = ScalarOperands.Range(shape.Levels.shape[1], int64).unsqueeze(0);
        RegisterComponents();
    }

    /// <summary>Whether a frozen grid is in use outside training.</summary>
    public bool IsCalibrated => calibrated.item<float>() == 1f;

    /// <summary>The frozen grid (after calibration).</summary>
    public GridTensors FrozenGrid() => new(bits, scales, levels, thresholds, code_order);

    /// <summary>Starts the counting pass: the following forward passes count their inputs' values.</summary>
    public void BeginCalibration()
    {
        DisposeSample();
        counted = 0;
    }

    /// <summary>
    /// Turns the count of a counting pass over <paramref name="seen"/> examples into that of <paramref name="examples"/>
    /// examples of the same shape, each yielding as many values, so that the counting pass need not see them all.
    /// </summary>
    /// <exception cref="InvalidOperationException">No counting pass is under way, or its count does not divide by its examples.</exception>
    public void ScaleCount(long seen, long examples)
    {
        if (counted is not long count || picks is not null) throw new InvalidOperationException($"Quantizer '{GetName()}': ScaleCount outside a counting pass.");
        if (seen <= 0 || count % seen != 0)
            throw new InvalidOperationException($"Quantizer '{GetName()}' counted {count} values in {seen} examples, not as many per example.");
        counted = count / seen * examples;
    }

    /// <summary>
    /// Starts a sampling pass over the inputs of the last calibration again, without counting them again: a recalibration
    /// on the same examples (after their BatchNorm statistics were re-estimated) differs only in the values.
    /// </summary>
    /// <exception cref="InvalidOperationException">No calibration has ended yet.</exception>
    public void BeginResampling()
    {
        if (lastCount is not long count) throw new InvalidOperationException($"Quantizer '{GetName()}': BeginResampling before a calibration ended.");
        DisposeSample();
        counted = count;
        BeginSampling();
    }

    /// <summary>
    /// Ends the counting pass and starts the sampling pass, which must run the same inputs again: it draws the
    /// sample's positions among the values counted, and the passes gather the values at them.
    /// </summary>
    public void BeginSampling()
    {
        if (counted is not long count) throw new InvalidOperationException($"Quantizer '{GetName()}': BeginSampling before BeginCalibration.");
        if (count == 0) throw new InvalidOperationException($"Quantizer '{GetName()}' saw no values during calibration.");
        // Fitted to a random sample of the size training fits to, so that range-based grids (ZoomQ, FixedQ, PotQ)
        // see the statistics they were trained with rather than the extreme of every value seen: the positions
        // ActivationSample would take from all the values, with its own seed, which keeps the grid independent of
        // what else drew random numbers before (a resumed run draws fewer). Only the sample is held, not every
        // value, which for 4,096 VggSmall examples was about a gigabyte per round.
        using (var generator = new Generator(CalibrationSeed))
            picks = (SchemeMath.SamplePositions(count, CPU, generator) ?? ScalarOperands.Range(count, int64)).DetachFromDisposeScope();
        gathered = 0;
    }

    /// <summary>Fits the grid to the sample gathered by the sampling pass and freezes it.</summary>
    public void EndCalibration()
    {
        if (picks is null || counted is not long count) throw new InvalidOperationException($"Quantizer '{GetName()}': EndCalibration before BeginSampling.");
        try
        {
            if (gathered != count)
                throw new InvalidOperationException($"Quantizer '{GetName()}': the sampling pass saw {gathered} values, the counting pass {count}; both must run the same inputs.");
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            using var grid = scheme.Fit(sample!.unsqueeze(0), bits, QuantizationGranularity.PerTensor);
            scales.copy_(grid.Scales);
            levels.copy_(grid.Levels);
            thresholds.copy_(grid.Thresholds);
            if (grid.CodeOrder is not null) code_order.copy_(grid.CodeOrder);
            else code_order.copy_(ScalarOperands.Range(code_order.shape[1], int64).unsqueeze(0));
            calibrated.FillInPlace(1);
            lastCount = count;
        }
        finally
        {
            DisposeSample();
        }
    }

    private void DisposeSample()
    {
        picks?.Dispose();
        sample?.Dispose();
        (picks, sample, counted) = (null, null, null);
    }

    /// <summary>Counts (first pass) or gathers the drawn positions that fall in this input (second pass).</summary>
    private void Observe(Tensor x)
    {
        long n = x.numel();
        if (picks is null)
        {
            counted += n;
            return;
        }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        sample ??= zeros(picks.shape[0], dtype: x.dtype).DetachFromDisposeScope();
        var here = picks.AtLeast(gathered).logical_and(picks.Below(gathered + n));
        sample.masked_scatter_(here, x.detach().reshape(-1).cpu().index_select(0, picks.masked_select(here).Minus(gathered)));
        gathered += n;
    }

    public override Tensor forward(Tensor x)
    {
        if (counted is not null) Observe(x);
        if (training) return scheme.QuantizeActivation(x, bits);
        if (!IsCalibrated) return scheme.Quantize(x, bits); // a recalibration runs on the previous frozen grid
        using var scope = NewDisposeScope();
        using var grid = FrozenGrid();
        return grid.Quantize(x.reshape(1, -1)).reshape(x.shape).MoveToOuterDisposeScope();
    }
}
