using Microsoft.ML.Quantization.MLNet.Classifiers;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Quantization.MLNet.AutoQuantization;

/// <summary>
/// Automatic quantization of a trained classifier: runs <see cref="AutoQuantizer"/> (which trains, calibrates and
/// exports) on its exported FP32 network and the training data, with progress on the environment's channel, and
/// returns the same classifier around the quantized network.
/// </summary>
internal static class ClassifierQuantization
{
    public static GraphClassifierTransformerBase Quantize(IHostEnvironment environment, GraphClassifierTransformerBase model, IDataView data, int targetBits,
        AutoQuantizationOptions? options, TrainingOptions? trainerOptions)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        options ??= new AutoQuantizationOptions();
        options.Validate(targetBits);
        var trained = model.ModelFor("quantize automatically");
        CheckLabels(model, data, options.LabelColumnName);
        var training = options.Training ?? SearchTraining(trainerOptions ?? new TrainingOptions());

        using var channel = environment.Start("AutoQuantization");
        void Log(string message) => channel.Info(MessageSensitivity.None, message);
        using var trainingData = model.ReadTrainingData(data, options.LabelColumnName);
        var targets = options.Targets(targetBits);
        Log($"Quantizing automatically to W{targets.Weights}/A{targets.Activations} on {trainingData.Count} examples.");
        var previous = model.TrainingHistory.Count == 0 ? Array.Empty<StageRecord>()
            : new[] { new StageRecord(AutoQuantizer.Fp32Stage, model.TrainingHistory.Count, model.TrainingHistory.Average(r => r.Seconds)) };
        var result = AutoQuantizer.Run(trained, trainingData, options, training, targets, Log, previous);
        return model.WithNetwork(result.Model, model.TrainingHistory.Concat(result.History).ToList(), result.Report);
    }

    /// <summary>The chain with its last graph classifier replaced by <paramref name="stage"/>'s result on the data the transformers before it produce.</summary>
    /// <exception cref="ArgumentException">The chain holds no graph classifier.</exception>
    public static IReadOnlyList<ITransformer> ReplaceClassifierIn(IEnumerable<ITransformer> chain, IDataView data, string stageName,
        Func<GraphClassifierTransformerBase, IDataView, GraphClassifierTransformerBase> stage)
    {
        var transformers = chain.ToList();
        int index = transformers.FindLastIndex(t => t is GraphClassifierTransformerBase);
        if (index < 0) throw new ArgumentException($"{stageName}: the model holds no ImageClassifier or TextLstm transformer to quantize.", nameof(chain));
        var input = transformers.Take(index).Aggregate(data, (view, t) => t.Transform(view));
        transformers[index] = stage((GraphClassifierTransformerBase)transformers[index], input);
        return transformers;
    }

    /// <summary>Fine-tunes a quantized classifier with its quantizers as they are (see <see cref="AutoQuantizer.FineTuneQuantized"/>).</summary>
    public static GraphClassifierTransformerBase FineTune(IHostEnvironment environment, GraphClassifierTransformerBase model, IDataView data, int epochs)
    {
        var quantized = model.ModelFor("fine-tune");
        var defaults = new AutoQuantizationOptions();
        CheckLabels(model, data, defaults.LabelColumnName);
        using var channel = environment.Start(AutoQuantizer.FineTuneStage);
        using var trainingData = model.ReadTrainingData(data, defaults.LabelColumnName);
        var result = AutoQuantizer.FineTuneQuantized(quantized, trainingData, epochs, SearchTraining(new TrainingOptions()), message => channel.Info(MessageSensitivity.None, message));
        return model.WithNetwork(result.Model, model.TrainingHistory.Concat(result.History).ToList(), result.Report);
    }

    /// <summary>
    /// Until disposed, a graph classifier about to train an FP32 network for automatic quantization first checks that the bit
    /// targets are reachable on it (<see cref="AutoQuantizer.EnsureReachable"/>), so an unreachable target fails at once, not after training.
    /// </summary>
    public static IDisposable RefuseUnreachableTargets(int targetBits, AutoQuantizationOptions options) =>
        GraphClassifierTraining.CheckBeforeTraining(graph =>
            AutoQuantizer.EnsureReachable(graph, options, options.Targets(targetBits)));

    /// <summary>Refuses training data whose label keys are not the classifier's classes in its order.</summary>
    private static void CheckLabels(GraphClassifierTransformerBase model, IDataView data, string labelColumn)
    {
        var labels = LabeledVectorReader.ClassNames(data.Schema, labelColumn);
        if (!labels.SequenceEqual(model.ClassNames))
            throw new ArgumentOutOfRangeException(nameof(data), $"The label column '{labelColumn}' has the classes [{string.Join(", ", labels)}], "
                + $"the classifier [{string.Join(", ", model.ClassNames)}]; map the labels to keys in the classifier's order (MapValueToKey with keyData).");
    }

    /// <summary>The trainer's settings with a fifth of its learning rate: the search and fine-tuning start from trained weights.</summary>
    private static TrainingOptions SearchTraining(TrainingOptions trainer)
    {
        var stage = trainer.ForStage(0);
        stage.LearningRate = trainer.LearningRate / 5;
        return stage;
    }

}

/// <summary>What automatic quantization takes from a graph classifier's trainer: its environment and training options.</summary>
internal sealed record TrainerSettings(IHostEnvironment Environment, TrainingOptions Training)
{
    /// <summary>The settings of an ImageClassifier or TextLstm estimator; null for any other.</summary>
    public static TrainerSettings? Of(object? estimator) => estimator switch
    {
        ImageClassifierEstimator image => new(image.Environment, image.Options),
        TextLstmEstimator text => new(text.Environment, text.Options),
        _ => null,
    };
}
