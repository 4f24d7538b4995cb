using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Quantization.MLNet.Classifiers;

/// <summary>The fit steps every graph classifier shares: label checks, and training with logging on the environment's channel.</summary>
internal static class GraphClassifierTraining
{
    /// <summary>The label's class names; at least two.</summary>
    public static string[] ClassNames(IDataView input, string labelColumn)
    {
        string[] names = LabeledVectorReader.ClassNames(input.Schema, labelColumn);
        if (names.Length < 2) throw new ArgumentOutOfRangeException(nameof(input), $"Label column '{labelColumn}' has a single class; a classifier needs at least two.");
        return names;
    }

    // The check of the pipeline step that will use the trained network (automatic quantization's bit targets), run by
    // Train on the graph it is about to train. Ambient, because the trainer may sit deep inside an estimator chain.
    private static readonly AsyncLocal<Action<NetworkGraph>?> BeforeTraining = new();

    /// <summary>Runs <paramref name="check"/> on the graph of every graph classifier trained (on this flow of execution) until disposed.</summary>
    public static IDisposable CheckBeforeTraining(Action<NetworkGraph> check)
    {
        var previous = BeforeTraining.Value;
        BeforeTraining.Value = check;
        return new Restore(previous);
    }

    private sealed class Restore(Action<NetworkGraph>? previous) : IDisposable
    {
        public void Dispose() => BeforeTraining.Value = previous;
    }

    /// <summary>
    /// Trains <paramref name="graph"/> on <paramref name="data"/>, logging through the environment's channel, and returns the
    /// calibrated, exported network (<see cref="GraphTrainer.Finish"/>) with the epochs run.
    /// </summary>
    public static (ExportedModel Model, IReadOnlyList<EpochRecord> History) Train(IHostEnvironment environment, string component, TrainingOptions options,
        NetworkGraph graph, TrainingData data)
    {
        BeforeTraining.Value?.Invoke(graph);
        using var channel = environment.Start(component);
        channel.Info(MessageSensitivity.None, $"Training {(graph.IsQuantized ? "quantized" : "FP32")} {component} on {data.Count} examples:\n{graph}");
        var trainer = new GraphTrainer(options, graph.IsQuantized ? "QAT" : "FP32 training", message => channel.Info(MessageSensitivity.None, message));
        using var module = trainer.CreateModule(graph);
        var history = trainer.Train(module, data);
        return (trainer.Finish(module, data), history);
    }
}
