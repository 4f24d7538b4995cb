using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Serialization;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training;

/// <summary>
/// Trains a <see cref="GraphModule"/> with cross-entropy: shuffles with a generator seeded per epoch (so a
/// resumed run sees the same batches), reports progress after every batch, stops with a clear error on a
/// non-finite loss, and checkpoints after every epoch.
/// </summary>
internal sealed class GraphTrainer
{
    private const string CheckpointFile = "checkpoint.bin";
    private readonly TrainingOptions options;
    private readonly string stage;
    private readonly Action<string> log;

    public GraphTrainer(TrainingOptions options, string stage, Action<string>? log = null)
    {
        options.Validate();
        this.options = options;
        this.stage = stage;
        this.log = log ?? (_ => { });
    }

    /// <summary>Builds the module for <paramref name="graph"/> with the run's seed, so initialisation repeats.</summary>
    public GraphModule CreateModule(NetworkGraph graph, Layers.IQuantizerFactory? quantizers = null)
    {
        return TrainingRandom.Seeded(options.Seed, () => new GraphModule(graph, quantizers).to(new Device(options.Device)));
    }

    /// <summary>
    /// Ends training in the one way every stage ends: the module moves to the CPU, its activation quantizers and
    /// BatchNorm statistics are calibrated on the training data (<see cref="Calibration.Run"/>), and it is exported
    /// to the torch-free form that scoring, saving and ONNX export read.
    /// </summary>
    public ExportedModel Finish(GraphModule module, TrainingData data)
    {
        module.to(CPU);
        Calibration.Run(module, data, options.Seed, log);
        return ModelExporter.Export(module);
    }

    /// <summary>Trains in place and returns one record per epoch run here (resumed epochs are skipped).</summary>
    /// <remarks><paramref name="hooks"/> adds a search stage's schedule, loss and history (see <see cref="ITrainingHooks"/>).</remarks>
    public IReadOnlyList<EpochRecord> Train(GraphModule model, TrainingData data, ITrainingHooks? hooks = null)
    {
        var device = new Device(options.Device);
        var named = model.named_parameters().ToList();
        var parameters = named.Where(p => !p.name.StartsWith(GraphModule.SearchPrefix, StringComparison.Ordinal)).Select(p => p.parameter).ToList();
        var searchParameters = named.Where(p => p.name.StartsWith(GraphModule.SearchPrefix, StringComparison.Ordinal)).Select(p => p.parameter).ToList();
        using var optimizer = options.Optimizer == OptimizerKind.Sgd
            ? (torch.optim.Optimizer)torch.optim.SGD(parameters, options.LearningRate, options.Momentum, weight_decay: options.WeightDecay)
            : torch.optim.Adam(parameters, options.LearningRate, weight_decay: options.WeightDecay);
        int batches = (int)((data.Count + options.BatchSize - 1) / options.BatchSize);
        using var searchOptimizer = hooks is null || searchParameters.Count == 0 ? null : torch.optim.Adam(searchParameters, hooks.SearchLearningRate((long)batches * options.Epochs));

        int start = ResumeFrom(model, hooks, optimizer, searchOptimizer);
        var history = new List<EpochRecord>();
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (int epoch = start + 1; epoch <= options.Epochs; epoch++)
        {
            foreach (var group in optimizer.ParamGroups) group.LearningRate = options.RateAt(epoch);
            model.train();
            var epochWatch = System.Diagnostics.Stopwatch.StartNew();
            double lossSum = 0;
            long correct = 0, seen = 0;
            using var generator = new Generator((ulong)(options.Seed * 7919L + epoch));
            using var draws = TrainingRandom.ForEpoch(options.Seed, epoch);
            using var order = randperm(data.Count, generator: generator);
            for (int b = 0; b < batches; b++)
            {
                using var scope = NewDisposeScope();
                var index = order.narrow(0, (long)b * options.BatchSize, Math.Min(options.BatchSize, data.Count - (long)b * options.BatchSize));
                var x = data.Features.index_select(0, index).to(device);
                var y = data.Labels.index_select(0, index).to(device);
                optimizer.zero_grad();
                searchOptimizer?.zero_grad();
                double done = epoch - 1 + (double)b / batches;
                hooks?.BeforeBatch(done, done / options.Epochs);
                var logits = model.call(x);
                var loss = functional.cross_entropy(logits, y).Plus(model.RegularizationLoss().to(device));
                if (hooks?.Loss() is { } extra) loss = loss.Plus(extra.to(device));
                float value = loss.item<float>();
                if (!float.IsFinite(value))
                    throw new InvalidOperationException($"{stage}: the loss became {value} at epoch {epoch}, batch {b + 1}. Lower the learning rate or check the input for NaN or Inf values.");
                loss.backward();
                hooks?.AfterBackward(index.shape[0]);
                optimizer.step();
                searchOptimizer?.step();

                lossSum += value * index.shape[0];
                seen += index.shape[0];
                correct += logits.argmax(1).eq(y).sum().item<long>();
                Report(epoch, b + 1, batches, lossSum / seen, (double)correct / seen, watch.Elapsed, start);
            }
            var record = new EpochRecord(epoch, lossSum / seen, (double)correct / seen, epochWatch.Elapsed.TotalSeconds);
            history.Add(record);
            log($"{stage}: epoch {epoch}/{options.Epochs} loss {record.Loss:F4} accuracy {record.Accuracy:P2} in {record.Seconds:F1} s");
            hooks?.AfterEpoch(epoch);
            SaveCheckpoint(model, epoch, hooks, optimizer, searchOptimizer);
        }
        return history;
    }

    /// <summary>Accuracy of <paramref name="model"/> on <paramref name="data"/>, in eval mode without gradients.</summary>
    public static double Accuracy(GraphModule model, TrainingData data, int batchSize, string device = "cpu")
    {
        model.eval();
        using var _ = no_grad();
        long correct = 0;
        for (long start = 0; start < data.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            long n = Math.Min(batchSize, data.Count - start);
            var logits = model.call(data.Features.narrow(0, start, n).to(new Device(device)));
            correct += logits.argmax(1).cpu().eq(data.Labels.narrow(0, start, n)).sum().item<long>();
        }
        return (double)correct / data.Count;
    }

    private void Report(int epoch, int batch, int batches, double loss, double accuracy, TimeSpan elapsed, int start)
    {
        if (options.Progress is null) return;
        double done = (epoch - start - 1) * batches + batch, total = (options.Epochs - start) * (double)batches;
        var remaining = TimeSpan.FromSeconds(elapsed.TotalSeconds / done * (total - done));
        options.Progress.Report(new TrainingProgress(stage, epoch, options.Epochs, batch, batches, loss, accuracy, elapsed, remaining));
    }

    /// <summary>Loads the last checkpoint of this stage, if any, and returns its epoch (0 when starting fresh).</summary>
    /// <remarks>The optimizers' state (momentum, Adam moments) is restored too, so a resumed run continues exactly.</remarks>
    private int ResumeFrom(GraphModule model, ITrainingHooks? hooks, torch.optim.Optimizer optimizer, torch.optim.Optimizer? searchOptimizer)
    {
        string? path = CheckpointPath();
        if (path is null || !File.Exists(path)) return 0;
        using var reader = new BinaryReader(File.OpenRead(path));
        // The header names the stage and the graph (quantizer specs included): a checkpoint of another network, e.g.
        // a fine-tuning stage whose search chose other bits, is not resumed.
        string header = reader.ReadString();
        bool withOptimizers = header == Header(model.Graph);
        if (!withOptimizers && header != Header(model.Graph, format: 1))
        {
            log($"{stage}: checkpoint {path} belongs to another network; starting afresh");
            return 0;
        }
        int epoch = reader.ReadInt32();
        // Calibration buffers are derived state (refitted after training), so a checkpoint written before they
        // existed still resumes; every parameter must be there.
        var loaded = new Dictionary<string, bool>();
        model.load(reader, strict: false, loadedParameters: loaded);
        var missing = model.named_parameters().Select(p => p.name).Where(n => !loaded.GetValueOrDefault(n)).ToList();
        if (missing.Count > 0) throw new InvalidDataException($"{stage}: checkpoint {path} lacks parameters {string.Join(", ", missing)}.");
        hooks?.Load(reader);
        if (withOptimizers)
        {
            State(optimizer).load_state_dict(reader);
            if (searchOptimizer is not null) State(searchOptimizer).load_state_dict(reader);
        }
        log($"{stage}: resumed after epoch {epoch} from {path}" + (withOptimizers ? "" : " (a format-1 checkpoint: the optimizer state restarts)"));
        return Math.Min(epoch, options.Epochs);
    }

    private void SaveCheckpoint(GraphModule model, int epoch, ITrainingHooks? hooks, torch.optim.Optimizer optimizer, torch.optim.Optimizer? searchOptimizer)
    {
        string? path = CheckpointPath();
        if (path is null) return;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string temporary = path + ".tmp";
        using (var writer = new BinaryWriter(File.Create(temporary)))
        {
            writer.Write(Header(model.Graph));
            writer.Write(epoch);
            model.save(writer);
            hooks?.Save(writer);
            State(optimizer).save_state_dict(writer);
            if (searchOptimizer is not null) State(searchOptimizer).save_state_dict(writer);
        }
        File.Move(temporary, path, overwrite: true); // atomic: a crash never leaves half a checkpoint
    }

    private static TorchSharp.Modules.OptimizerHelper State(torch.optim.Optimizer optimizer) =>
        optimizer as TorchSharp.Modules.OptimizerHelper ?? throw new NotSupportedException($"Cannot checkpoint the state of {optimizer.GetType().Name}.");

    // Format 2 adds the optimizers' state; a format-1 checkpoint (no format in its header) resumes without it.
    private string Header(NetworkGraph graph, int format = 2) =>
        stage + (format == 1 ? "|" : "|2|") + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(graph.ToString())));

    private string? CheckpointPath() => options.CheckpointDirectory is null ? null
        : Path.Combine(options.CheckpointDirectory, string.Concat(stage.Select(c => char.IsLetterOrDigit(c) ? c : '-')) + "-" + CheckpointFile);
}
