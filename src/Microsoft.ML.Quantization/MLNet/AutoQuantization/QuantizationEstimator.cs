using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.MLNet.AutoQuantization;
using Microsoft.ML.Quantization.Search;

namespace Microsoft.ML.Quantization;

/// <summary>
/// The quantization stages an estimator runs after it trains its classifier in FP32, each continuing the one before in
/// one learning-rate schedule: a scheme stage (<see cref="SearchSchemes"/> or <see cref="QuantizeWith"/>), then
/// <see cref="LearnPrecision"/>, then <see cref="FineTune"/>. Every stage returns a new estimator; fitting any of them gives
/// a complete model (calibrated, savable, scorable) whose <see cref="GraphClassifierTransformerBase.QuantizationReport"/>
/// lists the stages run. <c>QuantizeAutomatically</c> is the same machinery with all of them.
/// </summary>
/// <typeparam name="TSelf">The estimator type the stages return.</typeparam>
public abstract class QuantizationStages<TSelf> where TSelf : QuantizationStages<TSelf>
{
    private protected QuantizationStages(QuantizationPlan plan) => Plan = plan;

    internal QuantizationPlan Plan { get; }

    /// <summary>The options of automatic quantization that the stages amount to.</summary>
    public AutoQuantizationOptions Options => Plan.Options;

    /// <summary>The stages asked for, in order ("SearchSchemes", "LearnPrecision", "QuantizeWith", "FineTune" or "QuantizeAutomatically").</summary>
    public IReadOnlyList<string> Stages => Plan.Stages;

    /// <summary>QSS: searches each quantizer's scheme for <paramref name="epochs"/> epochs, and keeps the search bitwidth. It comes first.</summary>
    /// <param name="options">Candidates, granularity, temperature and search bits; null for the defaults.</param>
    /// <param name="epochs">Search epochs (≥ 1).</param>
    /// <exception cref="InvalidOperationException">A stage comes before it.</exception>
    public TSelf SearchSchemes(SchemeSearchOptions? options = null, int epochs = 1) => With(Plan.SearchSchemes(options, epochs));

    /// <summary>
    /// QPL: learns each quantizer's bitwidth toward an average of <paramref name="targetBits"/> for <paramref name="epochs"/>
    /// epochs. After <see cref="SearchSchemes"/> it keeps the searched schemes; alone, it learns ClipQ's widths.
    /// </summary>
    /// <param name="targetBits">Target average bitwidth of weights and activations.</param>
    /// <param name="options">λ and the bit range; null for the defaults.</param>
    /// <param name="epochs">QPL epochs (≥ 1).</param>
    /// <exception cref="InvalidOperationException">It follows <see cref="QuantizeWith"/> or <see cref="FineTune"/>.</exception>
    /// <exception cref="UnreachableBitTargetException">At Fit, before any training: no bitwidths reach the target.</exception>
    public TSelf LearnPrecision(int targetBits = 2, PrecisionLearningOptions? options = null, int epochs = 1) => With(Plan.LearnPrecision(targetBits, options, epochs));

    /// <summary>Fixed-scheme quantization-aware training: QAG puts these quantizers in, trains <paramref name="fineTuneEpochs"/> epochs (0 only calibrates). It comes first.</summary>
    /// <param name="weights">The weight quantizer (the first and last layers stay at 8 bits, as QAG keeps them).</param>
    /// <param name="activations">The activation quantizer.</param>
    /// <param name="fineTuneEpochs">Training epochs (≥ 0).</param>
    /// <exception cref="InvalidOperationException">A stage comes before it.</exception>
    public TSelf QuantizeWith(QuantizerSpec weights, QuantizerSpec activations, int fineTuneEpochs = 2) => With(Plan.QuantizeWith(weights, activations, fineTuneEpochs));

    /// <summary>Trains the final fixed network <paramref name="epochs"/> more epochs. It follows a stage that quantizes.</summary>
    /// <param name="epochs">Epochs (≥ 1).</param>
    /// <exception cref="InvalidOperationException">No stage that quantizes comes before it.</exception>
    public TSelf FineTune(int epochs) => With(Plan.FineTune(epochs));

    private protected abstract TSelf With(QuantizationPlan plan);
}

/// <summary>
/// Fits a graph classifier's estimator (FP32 training), then runs its quantization stages on the trained network. Create it
/// with a stage (<c>SearchSchemes</c>, <c>LearnPrecision</c>, <c>QuantizeWith</c>) or <c>QuantizeAutomatically</c> on an
/// <c>ImageClassifier</c> or <c>TextLstm</c> trainer, and add stages to it.
/// </summary>
/// <typeparam name="TTransformer">The classifier's transformer.</typeparam>
public sealed class QuantizationEstimator<TTransformer> : QuantizationStages<QuantizationEstimator<TTransformer>>, IEstimator<TTransformer>
    where TTransformer : GraphClassifierTransformerBase
{
    private readonly TrainerSettings settings;
    private readonly IEstimator<TTransformer> trainer;

    internal QuantizationEstimator(TrainerSettings settings, IEstimator<TTransformer> trainer, QuantizationPlan plan) : base(plan)
    {
        this.settings = settings;
        this.trainer = trainer;
    }

    /// <inheritdoc />
    public TTransformer Fit(IDataView input)
    {
        TTransformer trained;
        using (ClassifierQuantization.RefuseUnreachableTargets(Plan.TargetBits, Plan.Options)) trained = trainer.Fit(input);
        return (TTransformer)ClassifierQuantization.Quantize(settings.Environment, trained, input, Plan.TargetBits, Plan.Options, settings.Training);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => trainer.GetOutputSchema(inputSchema);

    private protected override QuantizationEstimator<TTransformer> With(QuantizationPlan plan) => new(settings, trainer, plan);
}

/// <summary>
/// Fits an estimator chain that ends in a graph classifier, then runs the quantization stages on the classifier with the
/// data as the chain's earlier transforms leave it. See <see cref="QuantizationEstimator{TTransformer}"/>.
/// </summary>
/// <typeparam name="TTransformer">The classifier's transformer.</typeparam>
public sealed class QuantizationChainEstimator<TTransformer> : QuantizationStages<QuantizationChainEstimator<TTransformer>>, IEstimator<TransformerChain<TTransformer>>
    where TTransformer : GraphClassifierTransformerBase
{
    private readonly TrainerSettings settings;
    private readonly EstimatorChain<TTransformer> chain;

    internal QuantizationChainEstimator(TrainerSettings settings, EstimatorChain<TTransformer> chain, QuantizationPlan plan) : base(plan)
    {
        this.settings = settings;
        this.chain = chain;
    }

    /// <inheritdoc />
    public TransformerChain<TTransformer> Fit(IDataView input)
    {
        TransformerChain<TTransformer> fitted;
        using (ClassifierQuantization.RefuseUnreachableTargets(Plan.TargetBits, Plan.Options)) fitted = chain.Fit(input);
        var quantized = ClassifierQuantization.ReplaceClassifierIn(fitted, input, string.Join(", then ", Plan.Stages),
            (classifier, data) => ClassifierQuantization.Quantize(settings.Environment, classifier, data, Plan.TargetBits, Plan.Options, settings.Training));
        return new TransformerChain<TTransformer>(quantized.ToArray());
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => chain.GetOutputSchema(inputSchema);

    private protected override QuantizationChainEstimator<TTransformer> With(QuantizationPlan plan) => new(settings, chain, plan);
}
