using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.MLNet.AutoQuantization;
using Microsoft.ML.Quantization.MLNet.Onnx;
using Microsoft.ML.Quantization.MLNet.Persistence;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Quantization;

/// <summary>
/// MLQuant's entry points on ML.NET's own types: automatic quantization on a classifier's estimator or an estimator
/// chain ending in one (train in FP32, then quantize), the quantization catalog of a context
/// (<see cref="Quantization(MLContext)"/>, for trained models), and the loader registration
/// (<see cref="RegisterQuantization(ComponentCatalog)"/>).
/// <example><code>
///   var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label")
///       .Append(mlContext.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { FeatureColumnName = "Pixels" }))
///       .QuantizeAutomatically(targetBits: 2);
///   var model = pipeline.Fit(train);
///   Console.WriteLine(model.LastTransformer.QuantizationReport);
/// </code></example>
/// </summary>
public static class QuantizationCatalogExtensions
{
    /// <summary>Trains the classifier (an ImageClassifier or TextLstm trainer) in FP32, then quantizes it to <paramref name="targetBits"/> average bits: QSS, QPL (or DQA) and fine-tuning.</summary>
    /// <param name="trainer">The classifier's trainer.</param>
    /// <param name="targetBits">Target average bitwidth of weights and activations (see <see cref="AutoQuantizationOptions.TargetWeightBits"/>).</param>
    /// <param name="options">Stage epochs and options; null for defaults.</param>
    /// <exception cref="InvalidOperationException"><paramref name="trainer"/> already has quantization stages.</exception>
    public static QuantizationEstimator<TTransformer> QuantizeAutomatically<TTransformer>(this IEstimator<TTransformer> trainer, int targetBits = 2, AutoQuantizationOptions? options = null)
        where TTransformer : GraphClassifierTransformerBase =>
        new(Settings(trainer, QuantizationPlan.AutomaticStage), trainer, QuantizationPlan.Automatic(targetBits, options));

    /// <summary>Fits the chain (its classifier in FP32), then quantizes the classifier to <paramref name="targetBits"/> average bits.</summary>
    /// <param name="chain">A chain whose last estimator trains a graph classifier.</param>
    /// <param name="targetBits">Target average bitwidth of weights and activations.</param>
    /// <param name="options">Stage epochs and options; null for defaults.</param>
    public static QuantizationChainEstimator<TTransformer> QuantizeAutomatically<TTransformer>(this EstimatorChain<TTransformer> chain, int targetBits = 2, AutoQuantizationOptions? options = null)
        where TTransformer : GraphClassifierTransformerBase =>
        new(Settings(chain, QuantizationPlan.AutomaticStage), chain, QuantizationPlan.Automatic(targetBits, options));

    /// <summary>Trains the classifier in FP32, then runs QSS (see <see cref="QuantizationStages{TSelf}.SearchSchemes"/>).</summary>
    /// <param name="trainer">The classifier's trainer.</param>
    /// <param name="options">Candidates, granularity, temperature and search bits; null for the defaults.</param>
    /// <param name="epochs">Search epochs.</param>
    public static QuantizationEstimator<TTransformer> SearchSchemes<TTransformer>(this IEstimator<TTransformer> trainer, SchemeSearchOptions? options = null, int epochs = 1)
        where TTransformer : GraphClassifierTransformerBase => Start(trainer, QuantizationPlan.SchemeStage).SearchSchemes(options, epochs);

    /// <summary>Fits the chain, then runs QSS on its classifier (see <see cref="QuantizationStages{TSelf}.SearchSchemes"/>).</summary>
    /// <param name="chain">A chain whose last estimator trains a graph classifier.</param>
    /// <param name="options">Candidates, granularity, temperature and search bits; null for the defaults.</param>
    /// <param name="epochs">Search epochs.</param>
    public static QuantizationChainEstimator<TTransformer> SearchSchemes<TTransformer>(this EstimatorChain<TTransformer> chain, SchemeSearchOptions? options = null, int epochs = 1)
        where TTransformer : GraphClassifierTransformerBase => Start(chain, QuantizationPlan.SchemeStage).SearchSchemes(options, epochs);

    /// <summary>Trains the classifier in FP32, then learns ClipQ's bitwidths toward <paramref name="targetBits"/> (see <see cref="QuantizationStages{TSelf}.LearnPrecision"/>).</summary>
    /// <param name="trainer">The classifier's trainer.</param>
    /// <param name="targetBits">Target average bitwidth of weights and activations.</param>
    /// <param name="options">λ and the bit range; null for the defaults.</param>
    /// <param name="epochs">QPL epochs.</param>
    public static QuantizationEstimator<TTransformer> LearnPrecision<TTransformer>(this IEstimator<TTransformer> trainer, int targetBits = 2, PrecisionLearningOptions? options = null, int epochs = 1)
        where TTransformer : GraphClassifierTransformerBase => Start(trainer, QuantizationPlan.PrecisionStage).LearnPrecision(targetBits, options, epochs);

    /// <summary>Fits the chain, then learns ClipQ's bitwidths for its classifier (see <see cref="QuantizationStages{TSelf}.LearnPrecision"/>).</summary>
    /// <param name="chain">A chain whose last estimator trains a graph classifier.</param>
    /// <param name="targetBits">Target average bitwidth of weights and activations.</param>
    /// <param name="options">λ and the bit range; null for the defaults.</param>
    /// <param name="epochs">QPL epochs.</param>
    public static QuantizationChainEstimator<TTransformer> LearnPrecision<TTransformer>(this EstimatorChain<TTransformer> chain, int targetBits = 2, PrecisionLearningOptions? options = null, int epochs = 1)
        where TTransformer : GraphClassifierTransformerBase => Start(chain, QuantizationPlan.PrecisionStage).LearnPrecision(targetBits, options, epochs);

    /// <summary>Trains the classifier in FP32, then runs fixed-scheme quantization-aware training (see <see cref="QuantizationStages{TSelf}.QuantizeWith"/>).</summary>
    /// <param name="trainer">The classifier's trainer.</param>
    /// <param name="weights">The weight quantizer.</param>
    /// <param name="activations">The activation quantizer.</param>
    /// <param name="fineTuneEpochs">Training epochs (0 only calibrates).</param>
    public static QuantizationEstimator<TTransformer> QuantizeWith<TTransformer>(this IEstimator<TTransformer> trainer, QuantizerSpec weights, QuantizerSpec activations, int fineTuneEpochs = 2)
        where TTransformer : GraphClassifierTransformerBase => Start(trainer, QuantizationPlan.FixedStage).QuantizeWith(weights, activations, fineTuneEpochs);

    /// <summary>Fits the chain, then runs fixed-scheme quantization-aware training on its classifier (see <see cref="QuantizationStages{TSelf}.QuantizeWith"/>).</summary>
    /// <param name="chain">A chain whose last estimator trains a graph classifier.</param>
    /// <param name="weights">The weight quantizer.</param>
    /// <param name="activations">The activation quantizer.</param>
    /// <param name="fineTuneEpochs">Training epochs (0 only calibrates).</param>
    public static QuantizationChainEstimator<TTransformer> QuantizeWith<TTransformer>(this EstimatorChain<TTransformer> chain, QuantizerSpec weights, QuantizerSpec activations, int fineTuneEpochs = 2)
        where TTransformer : GraphClassifierTransformerBase => Start(chain, QuantizationPlan.FixedStage).QuantizeWith(weights, activations, fineTuneEpochs);

    private static QuantizationEstimator<TTransformer> Start<TTransformer>(IEstimator<TTransformer> trainer, string stage) where TTransformer : GraphClassifierTransformerBase =>
        new(Settings(trainer, stage), trainer, QuantizationPlan.Empty);

    private static QuantizationChainEstimator<TTransformer> Start<TTransformer>(EstimatorChain<TTransformer> chain, string stage) where TTransformer : GraphClassifierTransformerBase =>
        new(Settings(chain, stage), chain, QuantizationPlan.Empty);

    /// <summary>The trainer's settings; a stage on anything but an ImageClassifier or TextLstm trainer is refused by name.</summary>
    private static TrainerSettings Settings<TTransformer>(IEstimator<TTransformer> trainer, string stage) where TTransformer : GraphClassifierTransformerBase
    {
        ArgumentNullException.ThrowIfNull(trainer);
        if (trainer is QuantizationEstimator<TTransformer> staged)
            throw new InvalidOperationException($"{stage} cannot follow {string.Join(", then ", staged.Stages)}: it starts from the FP32 network. Add stages in order instead (SearchSchemes or QuantizeWith, then LearnPrecision, then FineTune).");
        return TrainerSettings.Of(trainer) ?? throw new ArgumentException($"{stage} applies to an ImageClassifier or TextLstm trainer; {trainer.GetType().Name} is neither.", nameof(trainer));
    }

    /// <summary>The settings of the chain's last estimator, which must be an ImageClassifier or TextLstm trainer.</summary>
    private static TrainerSettings Settings<TTransformer>(EstimatorChain<TTransformer> chain, string stage) where TTransformer : GraphClassifierTransformerBase
    {
        ArgumentNullException.ThrowIfNull(chain);
        return TrainerSettings.Of(chain.LastEstimator) ?? throw new ArgumentException($"{stage} applies to a chain that ends in an ImageClassifier or TextLstm trainer.", nameof(chain));
    }

    /// <summary>The quantization operations of <paramref name="mlContext"/>.</summary>
    public static QuantizationCatalog Quantization(this MLContext mlContext)
    {
        ArgumentNullException.ThrowIfNull(mlContext);
        mlContext.ComponentCatalog.RegisterQuantization();
        return new QuantizationCatalog(mlContext);
    }

    /// <summary>
    /// Lets <c>mlContext.Model.Load</c> read models that hold MLQuant transformers. Call it once per
    /// <see cref="MLContext"/> before loading, in the process that scores:
    /// <code>
    ///   var mlContext = new MLContext();
    ///   mlContext.ComponentCatalog.RegisterQuantization();
    ///   var model = mlContext.Model.Load("model.zip", out var schema);
    /// </code>
    /// A context that created an MLQuant estimator or its <see cref="Quantization(MLContext)"/> catalog is registered already. Calling it again does nothing.
    /// </summary>
    /// <exception cref="NotSupportedException">The running Microsoft.ML is not a version MLQuant supports.</exception>
    public static void RegisterQuantization(this ComponentCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ModelLoader.Register(catalog);
    }
}

