using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Runtime;
using TorchSharp;

namespace Microsoft.ML.Quantization.MLNet;

/// <summary>The fit steps every graph classifier shares: label checks, training with logging, registration for loading.</summary>
internal static class GraphClassifierTraining
{
    /// <summary>The label's class names; at least two.</summary>
    public static string[] ClassNames(IDataView input, string labelColumn)
    {
        string[] names = LabeledVectorReader.ClassNames(input.Schema, labelColumn);
        if (names.Length < 2) throw new ArgumentOutOfRangeException(nameof(input), $"Label column '{labelColumn}' has a single class; a classifier needs at least two.");
        return names;
    }

    /// <summary>
    /// Trains <paramref name="graph"/> on <paramref name="data"/>, logging through the environment's channel,
    /// calibrates the activation quantizers and returns the packed scorer of the exported network
    /// (inputs multiplied by <paramref name="inputScale"/>).
    /// </summary>
    public static (PackedScorer Scorer, IReadOnlyList<EpochRecord> History) Train(IHostEnvironment environment, string component, TrainingOptions options,
        NetworkGraph graph, TrainingData data, float inputScale, BCPReLUOptions? activations = null)
    {
        using var channel = environment.Start(component);
        channel.Info(MessageSensitivity.None, $"Training {(graph.IsQuantized ? "quantized" : "FP32")} {component} on {data.Count} examples:\n{graph}");
        var trainer = new GraphTrainer(options, graph.IsQuantized ? "QAT" : "FP32 training", message => channel.Info(MessageSensitivity.None, message));
        var module = trainer.CreateModule(graph, activations);
        var history = trainer.Train(module, data);
        module.to(torch.CPU);
        Calibrate(module, data, options.Seed, channel);
        environment.ComponentCatalog.RegisterQuantization();
        return (new PackedScorer(new PackedNetwork(ModelExporter.Export(module)), inputScale), history);
    }

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
    public static void Calibrate(GraphModule module, TrainingData data, int seed, IChannel channel)
    {
        if (!module.ActivationQuantizers.Any()) return;
        using var scope = torch.NewDisposeScope();
        using var generator = new torch.Generator((ulong)seed);
        var pick = torch.randperm(data.Count, generator: generator).narrow(0, 0, Math.Min(CalibrationExamples, data.Count));
        var examples = data.Features.index_select(0, pick);
        var sample = new TrainingData(examples, data.Labels.index_select(0, pick));
        // Grids first, so that BatchNorm statistics are gathered on activations quantized as scoring will quantize
        // them (grids fitted to one whole batch span its rare extremes, and a 2-bit grid stretched so moves every
        // statistic), then the grids again for the re-estimated BatchNorm. Where 2-bit grids keep moving each other
        // the rounds need not improve (a subset VggSmall fell from 77 % training accuracy to 60 % test after 5), so
        // the best round on the sample is kept. Round 0 is the grids on the training BatchNorm statistics.
        var accuracies = new List<double>();
        Dictionary<string, torch.Tensor>? best = null;
        int kept = 0;
        void Score()
        {
            double accuracy = GraphTrainer.Accuracy(module, sample, 256);
            if (best is null || accuracy > accuracies.Max())
            {
                kept = accuracies.Count;
                best = ModelImporter.Snapshot(module);
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
        if (kept < accuracies.Count - 1) ModelImporter.Load(module, best!); // scoring left the module in eval mode
        channel.Info(MessageSensitivity.None, $"Calibrated the activation quantizers on {pick.shape[0]} training examples in {accuracies.Count - 1} rounds (last grid change {change:P2}); "
            + $"kept round {kept}; sample accuracy from round 0: {string.Join(", ", accuracies.Select(a => a.ToString("P1")))}.");
    }
}
