using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Training;

/// <summary>
/// The last step of every training stage: the activation quantizers' grids are frozen and BatchNorm statistics
/// re-estimated on a seeded sample of the training data (see <see cref="Run"/>).
/// </summary>
internal static class Calibration
{
    /// <summary>
    /// Examples drawn (seeded) from the training data to freeze the activation quantizers on. Calibration keeps the
    /// round that classifies them best: on 512 the standard error of that accuracy (about 1.1 points at 93 %)
    /// exceeded the differences between rounds, so the choice was mostly chance; on 4,096 it is about 0.4.
    /// </summary>
    public const int CalibrationExamples = 4096;

    /// <summary>The most rounds of BatchNorm re-estimation and grid refitting calibration runs.</summary>
    public const int MaxCalibrationRounds = 5;

    /// <summary>The relative change of every grid scale below which calibration stops refitting.</summary>
    public const float GridTolerance = 0.01f;

    private static float[] Scales(GraphModule module) => module.ActivationQuantizers.SelectMany(q => q.FrozenGrid().Scales.data<float>().ToArray()).ToArray();

    /// <summary>
    /// Freezes the activation quantizers' grids, then, until the grids settle (every scale within <see cref="GridTolerance"/>
    /// of the round before, at most <see cref="MaxCalibrationRounds"/> rounds), re-estimates BatchNorm statistics with them
    /// and refits the grids, on a seeded sample of the training data; keeps the round that classifies that sample best.
    /// </summary>
    public static void Run(GraphModule module, TrainingData data, int seed, Action<string> log)
    {
        if (!module.ActivationQuantizers.Any()) return;
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var pick = randperm(data.Count, generator: generator).narrow(0, 0, Math.Min(CalibrationExamples, data.Count));
        var examples = data.Features.index_select(0, pick);
        var sample = new TrainingData(examples, data.Labels.index_select(0, pick));
        // Grids first, so that BatchNorm statistics are gathered on activations quantized as scoring will quantize
        // them (grids fitted to one whole batch span its rare extremes, and a 2-bit grid stretched so moves every
        // statistic), then the grids again for the re-estimated BatchNorm. Where 2-bit grids keep moving each other
        // the rounds need not improve (a subset VggSmall fell from 77 % training accuracy to 60 % test after 5), so
        // the best round on the sample is kept. Round 0 is the grids on the training BatchNorm statistics.
        var accuracies = new List<double>();
        Dictionary<string, Tensor>? best = null;
        int kept = 0;
        void Score()
        {
            double accuracy = GraphTrainer.Accuracy(module, sample, 256);
            if (best is null || accuracy > accuracies.Max())
            {
                kept = accuracies.Count;
                best = ModuleState.Snapshot(module);
            }
            accuracies.Add(accuracy);
        }
        module.Calibrate(examples);
        Score();
        float change;
        do
        {
            var before = Scales(module);
            module.ReestimateBatchNorm(examples);
            module.Calibrate(examples);
            change = before.Zip(Scales(module), (a, b) => Math.Abs(a - b) / Math.Max(Math.Abs(a), 1e-12f)).Max();
            Score();
        }
        while (accuracies.Count <= MaxCalibrationRounds && change > GridTolerance);
        if (kept < accuracies.Count - 1) ModuleState.Load(module, best!); // scoring left the module in eval mode
        log($"Calibrated the activation quantizers on {pick.shape[0]} training examples in {accuracies.Count - 1} rounds (last grid change {change:P2}); "
            + $"kept round {kept}; sample accuracy from round 0: {string.Join(", ", accuracies.Select(a => a.ToString("P1")))}.");
    }
}
