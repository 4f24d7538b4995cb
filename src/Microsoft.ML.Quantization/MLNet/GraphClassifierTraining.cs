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

    /// <summary>Trains <paramref name="graph"/> on <paramref name="data"/>, logging through the environment's channel, and leaves the module on the CPU.</summary>
    public static (GraphModule Module, IReadOnlyList<EpochRecord> History) Train(IHostEnvironment environment, string component, TrainingOptions options,
        NetworkGraph graph, TrainingData data, BCPReLUOptions? activations = null)
    {
        using var channel = environment.Start(component);
        channel.Info(MessageSensitivity.None, $"Training {(graph.IsQuantized ? "quantized" : "FP32")} {component} on {data.Count} examples:\n{graph}");
        var trainer = new GraphTrainer(options, graph.IsQuantized ? "QAT" : "FP32 training", message => channel.Info(MessageSensitivity.None, message));
        var module = trainer.CreateModule(graph, activations);
        var history = trainer.Train(module, data);
        module.to(torch.CPU);
        environment.ComponentCatalog.RegisterQuantization();
        return (module, history);
    }
}
