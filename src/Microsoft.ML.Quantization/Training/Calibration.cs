using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Training;

/// <summary>
/// The last step of every training stage: the activation quantizers' grids are frozen and BatchNorm statistics
/// re-estimated on a seeded sample of the training data (see <see cref="Run"/>).
/// </summary>
internal static class Calibration
{
    /// <summary>
    /// Examples drawn (seeded) from the training data to calibrate on. Calibration keeps the round that classifies them
    /// best; the rounds are compared on the same examples, so 2,048 tell them apart (on 512, a sample's accuracy moved by
    /// chance as much as the rounds differed), and each round is two passes over them: VggSmall on the main job's subset
    /// calibrated in 13 s where 4,096 and a counting pass per round took 66 s, at the same test accuracy within its noise.
    /// </summary>
    public const int CalibrationExamples = 2048;

    /// <summary>The most rounds of BatchNorm re-estimation and grid refitting calibration runs after its first two.</summary>
    public const int MaxCalibrationRounds = 5;

    /// <summary>The relative change of every grid scale below which calibration stops refitting.</summary>
    public const float GridTolerance = 0.01f;

    /// <summary>
    /// The rise in sample accuracy over the best round before it below which calibration stops refitting: later rounds
    /// moved a quarter point or less, or lost points where 2-bit grids kept moving each other.
    /// </summary>
    public const double MinRoundGain = 0.0025;

    private static float[] Scales(GraphModule module) => module.ActivationQuantizers.SelectMany(q => q.FrozenGrid().Scales.data<float>().ToArray()).ToArray();

    /// <summary>
    /// Freezes the activation quantizers' grids on the training statistics, then again on BatchNorm statistics
    /// re-estimated as trained, then, until the grids settle (every scale within <see cref="GridTolerance"/> of the round
    /// before), a round no longer gains <see cref="MinRoundGain"/> or <see cref="MaxCalibrationRounds"/> more rounds ran,
    /// re-estimates BatchNorm statistics with them and refits the grids, on a seeded sample of the training data; keeps the
    /// round that classifies that sample best.
    /// </summary>
    public static void Run(GraphModule module, TrainingData data, int seed, Action<string> log)
    {
        if (!module.ActivationQuantizers.Any()) return;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var pick = randperm(data.Count, generator: generator).narrow(0, 0, Math.Min(CalibrationExamples, data.Count));
        var examples = data.Features.index_select(0, pick);
        var sample = new TrainingData(examples, data.Labels.index_select(0, pick));
        // Grids first, so that BatchNorm statistics are gathered on activations quantized as scoring will quantize
        // them (grids fitted to one whole batch span its rare extremes, and a 2-bit grid stretched so moves every
        // statistic), then, one pass per round, BatchNorm statistics and the grids together. Where 2-bit grids keep moving each other
        // the rounds need not improve (a subset VggSmall fell from 77 % training accuracy to 60 % test after 5), so
        // the best round on the sample is kept. Round 0 is the grids on the training BatchNorm statistics.
        var accuracies = new List<double>();
        Dictionary<string, Tensor>? best = null;
        int kept = 0;
        bool Score()
        {
            double accuracy = GraphTrainer.Accuracy(module, sample, 256);
            double? before = accuracies.Count == 0 ? null : accuracies.Max();
            if (before is null || accuracy > before)
            {
                kept = accuracies.Count;
                best = ModuleState.Snapshot(module);
            }
            accuracies.Add(accuracy);
            return before is null || accuracy >= before + MinRoundGain;
        }
        module.Calibrate(examples);
        Score();
        // Round 1: the statistics re-estimated as the weights were trained (each batch quantized on its own grid), then
        // the grids. After a long stage the running averages are as good, but a fine-tuning of a few dozen steps leaves
        // them far off: ResNet20 on 72 images scored 67 % at round 0 and fell to 33 % as the rounds below moved
        // statistics and 1–2-bit grids in turn.
        // Its per-batch samples are drawn from the run's seed (epoch −1), as training draws them: the same for the same
        // seed, whatever else drew from torch's global generator.
        using (TrainingRandom.ForEpoch(seed, -1)) module.ReestimateBatchNormAsTrained(examples);
        module.Calibrate(examples);
        Score();
        float change;
        bool gained;
        do
        {
            var before = Scales(module);
            module.Recalibrate(examples);
            change = before.Zip(Scales(module), (a, b) => Math.Abs(a - b) / Math.Max(Math.Abs(a), 1e-12f)).Max();
            gained = Score();
        }
        while (accuracies.Count <= MaxCalibrationRounds + 1 && change > GridTolerance && gained);
        if (kept < accuracies.Count - 1) ModuleState.Load(module, best!); // scoring left the module in eval mode
        log($"Calibrated the activation quantizers on {pick.shape[0]} training examples in {accuracies.Count - 1} rounds (last grid change {change:P2}); "
            + $"kept round {kept}; sample accuracy from round 0: {string.Join(", ", accuracies.Select(a => a.ToString("P1")))}; {watch.Elapsed.TotalSeconds:F1} s.");
    }
}
