using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Search;

/// <summary>What automatic quantization returns: the final network (trained, calibrated, exported), its report and every epoch run.</summary>
internal sealed record AutoQuantizationResult(ExportedModel Model, QuantizationReport Report, IReadOnlyList<EpochRecord> History);

/// <summary>
/// AutoQNN Algorithm 2 on a trained FP32 network: QAG inserts quantizer vertices; QSS picks each vertex's
/// scheme; QPL learns its bitwidth toward the targets; the fixed network that results is fine-tuned, and
/// <see cref="GraphTrainer.Finish"/> calibrates and exports it. With <see cref="AutoQuantizationOptions.UseAttention"/>, DQA replaces
/// QSS and QPL. Each stage starts from the previous stage's weights, continues one learning-rate schedule over
/// all the stages, and checkpoints under its own name.
/// </summary>
internal static class AutoQuantizer
{
    public const string Fp32Stage = "FP32 training", SearchStage = "QSS", PrecisionStage = "QPL", AttentionStage = "DQA", FineTuneStage = "Fine-tuning";

    /// <param name="trained">The trained FP32 network.</param>
    /// <param name="data">Training data.</param>
    /// <param name="options">Stage options.</param>
    /// <param name="training">Optimizer, seed, checkpoints and progress of every stage.</param>
    /// <param name="targets">Target average weight and activation bits.</param>
    /// <param name="log">Receives one line per epoch and per stage.</param>
    /// <param name="previous">Stages already run (the FP32 training), kept in the report.</param>
    public static AutoQuantizationResult Run(ExportedModel trained, TrainingData data,
        AutoQuantizationOptions options, TrainingOptions training, (double Weights, double Activations) targets,
        Action<string> log, IReadOnlyList<StageRecord> previous)
    {
        IReadOnlyDictionary<string, Tensor> state = ModuleState.FromExported(trained); // refuses a quantized network first
        var (quantized, vertices) = Vertices(trained.Graph, options);

        var stages = previous.ToList();
        var history = new List<EpochRecord>();
        IReadOnlyList<SchemeProbabilities> schemes = Array.Empty<SchemeProbabilities>();
        IReadOnlyList<LearnedBits> bits = Array.Empty<LearnedBits>();
        IReadOnlyList<BranchAttention> attention = Array.Empty<BranchAttention>();

        // The stages after FP32 follow one learning-rate schedule, so none restarts at the full rate.
        bool searchable = options.Search.WeightSpecs().Count > 1 || options.Search.ActivationSpecs().Count > 1;
        bool runSearch = !options.UseAttention && options.SearchEpochs > 0 && searchable, runPrecision = RunsPrecision(options);
        if (runPrecision) PrecisionQuantizers.EnsureReachable(vertices, options.Precision, targets.Weights, targets.Activations);
        int scheduleEpochs = (options.UseAttention ? options.AttentionEpochs : 0) + (runSearch ? options.SearchEpochs : 0) + (runPrecision ? options.PrecisionEpochs : 0) + options.FineTuneEpochs;
        int scheduled = 0;
        TrainingOptions NextStage(int epochs)
        {
            var stage = training.ForStage(epochs, scheduled, scheduleEpochs);
            scheduled += epochs;
            return stage;
        }

        // Runs one stage on the graph with the given specs and returns the factory's choice (if any).
        IReadOnlyDictionary<string, QuantizerSpec>? Stage(string name, int epochs, IReadOnlyDictionary<string, QuantizerSpec> specs, SearchQuantizers? search)
        {
            var trainer = new GraphTrainer(NextStage(epochs), name, log);
            using var module = trainer.CreateModule(WithSpecs(quantized, specs), search);
            ModuleState.Load(module, state);
            var records = trainer.Train(module, data, search);
            history.AddRange(records);
            stages.Add(new StageRecord(name, records.Count, records.Count == 0 ? 0 : records.Average(r => r.Seconds)));
            var choice = search?.Result();
            if (choice is not null) log($"{name}: " + string.Join(", ", choice.Where(c => !vertices.First(v => v.Name == c.Key).IsFixed).Select(c => $"{c.Key} {c.Value}")));
            state = ModuleState.Snapshot(module);
            return choice;
        }

        var chosen = vertices.ToDictionary(v => v.Name, v => v.Spec, StringComparer.Ordinal);
        if (options.UseAttention)
        {
            var dqa = new AttentionQuantizers(vertices, options.Attention, options.AttentionEpochs);
            chosen = new Dictionary<string, QuantizerSpec>(Stage(AttentionStage, options.AttentionEpochs, chosen, dqa)!);
            attention = dqa.History;
        }
        else
        {
            if (runSearch)
            {
                var qss = new SchemeSearchQuantizers(vertices, options.Search);
                chosen = new Dictionary<string, QuantizerSpec>(Stage(SearchStage, options.SearchEpochs, chosen, qss)!);
                schemes = qss.History;
            }
            if (runPrecision)
            {
                var withSchemes = vertices.Select(v => v with { Spec = chosen[v.Name] }).ToList();
                var qpl = new PrecisionQuantizers(withSchemes, options.Precision, targets.Weights, targets.Activations);
                chosen = new Dictionary<string, QuantizerSpec>(Stage(PrecisionStage, options.PrecisionEpochs, chosen, qpl)!);
                bits = qpl.History;
            }
        }

        var final = WithSpecs(quantized, chosen);
        var fineTuner = new GraphTrainer(NextStage(options.FineTuneEpochs), FineTuneStage, log);
        using var result = fineTuner.CreateModule(final);
        ModuleState.Load(result, state);
        var fineTune = fineTuner.Train(result, data);
        var model = fineTuner.Finish(result, data);
        history.AddRange(fineTune);
        stages.Add(new StageRecord(FineTuneStage, fineTune.Count, fineTune.Count == 0 ? 0 : fineTune.Average(r => r.Seconds)));
        var report = QuantizationReport.FromGraph(final).With(schemes, bits, attention, stages, runPrecision ? targets : null);
        log($"Automatic quantization:\n{report}");
        return new AutoQuantizationResult(model, report, history);
    }

    /// <summary>
    /// Trains a quantized network <paramref name="epochs"/> more epochs with its quantizers as they are, from its weights' stored
    /// levels, then calibrates and exports it.
    /// </summary>
    /// <exception cref="InvalidOperationException">The network is FP32.</exception>
    public static AutoQuantizationResult FineTuneQuantized(ExportedModel quantized, TrainingData data, int epochs, TrainingOptions training, Action<string> log)
    {
        if (!quantized.Graph.IsQuantized)
            throw new InvalidOperationException("FineTune continues a quantized network; this one is FP32: quantize it first (QuantizeWith, SearchSchemes, LearnPrecision or QuantizeAutomatically).");
        var trainer = new GraphTrainer(training.ForStage(epochs), FineTuneStage, log);
        using var module = trainer.CreateModule(quantized.Graph);
        ModuleState.Load(module, ModuleState.FromQuantized(quantized));
        var records = trainer.Train(module, data);
        var model = trainer.Finish(module, data);
        var stages = new[] { new StageRecord(FineTuneStage, records.Count, records.Count == 0 ? 0 : records.Average(r => r.Seconds)) };
        var report = QuantizationReport.FromGraph(quantized.Graph).With(Array.Empty<SchemeProbabilities>(), Array.Empty<LearnedBits>(), Array.Empty<BranchAttention>(), stages, null);
        return new AutoQuantizationResult(model, report, records);
    }

    /// <summary>
    /// Throws the <see cref="UnreachableBitTargetException"/> that <see cref="Run"/> would throw for <paramref name="fp32"/>, so that
    /// a pipeline can refuse an unreachable target before it trains the FP32 network. Does nothing when QPL does not run.
    /// </summary>
    public static void EnsureReachable(NetworkGraph fp32, AutoQuantizationOptions options, (double Weights, double Activations) targets)
    {
        if (!RunsPrecision(options) || fp32.IsQuantized) return;
        PrecisionQuantizers.EnsureReachable(Vertices(fp32, options).Vertices, options.Precision, targets.Weights, targets.Activations);
    }

    private static bool RunsPrecision(AutoQuantizationOptions options) => !options.UseAttention && options.PrecisionEpochs > 0;

    /// <summary>QAG's graph with the first searched specs, and its quantizer vertices (the first and last layers fixed where QAG keeps them at 8 bits).</summary>
    private static (NetworkGraph Quantized, IReadOnlyList<QuantizerVertex> Vertices) Vertices(NetworkGraph graph, AutoQuantizationOptions options)
    {
        var qag = new QagOptions
        {
            ExpensiveKinds = options.Qag.ExpensiveKinds,
            KeepFirstAndLastAt8Bits = options.Qag.KeepFirstAndLastAt8Bits,
            EdgeWeights = options.Qag.EdgeWeights,
            EdgeActivations = options.Qag.EdgeActivations,
            Weights = options.Search.WeightSpecs()[0],
            Activations = options.Search.ActivationSpecs()[0],
        };
        var quantized = Qag.Prepare(graph, qag);
        var expensive = graph.Nodes.Where(n => qag.ExpensiveKinds.Contains(n.Kind)).Select(n => n.Name).ToList();
        var fixedLayers = qag.KeepFirstAndLastAt8Bits ? new HashSet<string> { expensive[0], expensive[^1] } : new HashSet<string>();
        return (quantized, QuantizerVertex.Of(quantized, fixedLayers));
    }

    /// <summary>The graph with each vertex's quantizer replaced by <paramref name="specs"/>.</summary>
    public static NetworkGraph WithSpecs(NetworkGraph quantized, IReadOnlyDictionary<string, QuantizerSpec> specs) =>
        new(quantized.InputShape, quantized.Nodes.Select(n => n with
        {
            WeightQuantizer = n.WeightQuantizer is null ? null : specs[n.Name + QuantizerVertex.WeightSuffix],
            ActivationQuantizer = n.Kind == NodeKind.Quantize ? specs[n.Name] : n.ActivationQuantizer,
        }).ToList(), quantized.Output);
}
