using TorchSharp;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Quantization.MLNet;

/// <summary>
/// Automatic quantization of a trained classifier: reads its FP32 network and the training data, runs
/// <see cref="AutoQuantizer"/> with progress on the environment's channel, calibrates, packs and returns
/// the same classifier around the quantized network.
/// </summary>
internal static class AutoQuantization
{
    public static GraphClassifierTransformerBase Quantize(IHostEnvironment environment, GraphClassifierTransformerBase model, IDataView data, int targetBits,
        AutoQuantizationOptions? options, TrainingOptions? trainerOptions, BCPReLUOptions? activations)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        options ??= new AutoQuantizationOptions();
        options.Validate(targetBits);
        if (model.Scorer is not PackedScorer scorer)
            throw new NotSupportedException("This model was saved in format 1 (a TorchSharp state); retrain it to quantize it automatically.");
        var training = options.Training ?? SearchTraining(trainerOptions ?? new TrainingOptions());
        var pretrained = ModelImporter.FromExported(scorer.Network.Model);

        using var channel = environment.Start("AutoQuantization");
        void Log(string message) => channel.Info(MessageSensitivity.None, message);
        using var trainingData = model.ReadTrainingData(data, options.LabelColumnName);
        Log($"Quantizing automatically to W{options.TargetWeightBits ?? targetBits}/A{options.TargetActivationBits ?? targetBits} on {trainingData.Count} examples.");
        var previous = model.TrainingHistory.Count == 0 ? Array.Empty<StageRecord>()
            : new[] { new StageRecord(AutoQuantizer.Fp32Stage, model.TrainingHistory.Count, model.TrainingHistory.Average(r => r.Seconds)) };
        var result = AutoQuantizer.Run(scorer.Graph, pretrained, trainingData, options, training,
            (options.TargetWeightBits ?? targetBits, options.TargetActivationBits ?? targetBits), activations, Log, previous);
        foreach (var t in pretrained.Values) t.Dispose();
        using var module = result.Module;
        module.to(TorchSharp.torch.CPU);
        GraphClassifierTraining.Calibrate(module, trainingData, training.Seed, channel);
        environment.ComponentCatalog.RegisterQuantization();
        var packed = new PackedScorer(new PackedNetwork(ModelExporter.Export(module)), model.InputScale);
        return model.WithNetwork(packed, model.TrainingHistory.Concat(result.History).ToList(), result.Report);
    }

    /// <summary>
    /// Quantizes the chain's last graph classifier on the data the transformers before it produce; the
    /// transformers after it (e.g. MapKeyToValue) stay as they are.
    /// </summary>
    /// <exception cref="ArgumentException">The chain holds no graph classifier.</exception>
    public static IReadOnlyList<ITransformer> QuantizeClassifierIn(IHostEnvironment environment, IEnumerable<ITransformer> chain, IDataView data, int targetBits,
        AutoQuantizationOptions? options, TrainingOptions? trainerOptions, BCPReLUOptions? activations)
    {
        var transformers = chain.ToList();
        int index = transformers.FindLastIndex(t => t is GraphClassifierTransformerBase);
        if (index < 0) throw new ArgumentException("The model holds no ImageClassifier or TextLstm transformer.", nameof(chain));
        var input = transformers.Take(index).Aggregate(data, (view, t) => t.Transform(view));
        transformers[index] = Quantize(environment, (GraphClassifierTransformerBase)transformers[index], input, targetBits, options, trainerOptions, activations);
        return transformers;
    }

    /// <summary>The trainer's settings with a fifth of its learning rate: the search and fine-tuning start from trained weights.</summary>
    private static TrainingOptions SearchTraining(TrainingOptions trainer)
    {
        var stage = trainer.ForStage(0);
        stage.LearningRate = trainer.LearningRate / 5;
        return stage;
    }

}

/// <summary>What automatic quantization takes from a graph classifier's trainer: its environment, training and activation options.</summary>
internal sealed record TrainerSettings(IHostEnvironment Environment, TrainingOptions Training, BCPReLUOptions? Activations)
{
    /// <summary>The settings of an ImageClassifier or TextLstm estimator; null for any other.</summary>
    public static TrainerSettings? Of(object? estimator) => estimator switch
    {
        ImageClassifierEstimator image => new(image.Environment, image.Options, image.Options.Activations),
        TextLstmEstimator text => new(text.Environment, text.Options, null),
        _ => null,
    };
}
