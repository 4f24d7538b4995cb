using Microsoft.ML.Data;
using Microsoft.ML.Quantization.MLNet.AutoQuantization;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Quantization;

/// <summary>
/// Fits a graph classifier's estimator (FP32 training) and then quantizes the trained network automatically
/// (QAG, QSS, QPL or DQA, fine-tuning). Create it with
/// <see cref="QuantizationCatalogExtensions.QuantizeAutomatically(ImageClassifierEstimator, int, AutoQuantizationOptions?)"/>
/// or the text and chain overloads. The transformer it returns exposes <see cref="GraphClassifierTransformerBase.QuantizationReport"/>.
/// </summary>
/// <typeparam name="TTransformer">The classifier's transformer.</typeparam>
public sealed class AutoQuantizationEstimator<TTransformer> : IEstimator<TTransformer> where TTransformer : GraphClassifierTransformerBase
{
    private readonly TrainerSettings settings;
    private readonly IEstimator<TTransformer> trainer;
    private readonly int targetBits;
    private readonly AutoQuantizationOptions options;

    internal AutoQuantizationEstimator(TrainerSettings settings, IEstimator<TTransformer> trainer, int targetBits, AutoQuantizationOptions? options)
    {
        this.settings = settings;
        this.trainer = trainer;
        this.targetBits = targetBits;
        this.options = options ?? new AutoQuantizationOptions();
        this.options.Validate(targetBits);
    }

    /// <summary>The automatic quantization options.</summary>
    public AutoQuantizationOptions Options => options;

    /// <inheritdoc />
    public TTransformer Fit(IDataView input)
    {
        TTransformer trained;
        using (ClassifierQuantization.RefuseUnreachableTargets(targetBits, options)) trained = trainer.Fit(input);
        return (TTransformer)ClassifierQuantization.Quantize(settings.Environment, trained, input, targetBits, options, settings.Training);
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => trainer.GetOutputSchema(inputSchema);
}

/// <summary>
/// Fits an estimator chain that ends in a graph classifier, then quantizes the classifier automatically on
/// the data as the chain's earlier transforms leave it. See <see cref="AutoQuantizationEstimator{TTransformer}"/>.
/// </summary>
/// <typeparam name="TTransformer">The classifier's transformer.</typeparam>
public sealed class AutoQuantizationChainEstimator<TTransformer> : IEstimator<TransformerChain<TTransformer>> where TTransformer : GraphClassifierTransformerBase
{
    private readonly TrainerSettings settings;
    private readonly EstimatorChain<TTransformer> chain;
    private readonly int targetBits;
    private readonly AutoQuantizationOptions options;

    internal AutoQuantizationChainEstimator(TrainerSettings settings, EstimatorChain<TTransformer> chain, int targetBits, AutoQuantizationOptions? options)
    {
        this.settings = settings;
        this.chain = chain;
        this.targetBits = targetBits;
        this.options = options ?? new AutoQuantizationOptions();
        this.options.Validate(targetBits);
    }

    /// <inheritdoc />
    public TransformerChain<TTransformer> Fit(IDataView input)
    {
        TransformerChain<TTransformer> fitted;
        using (ClassifierQuantization.RefuseUnreachableTargets(targetBits, options)) fitted = chain.Fit(input);
        return new TransformerChain<TTransformer>(ClassifierQuantization.QuantizeClassifierIn(settings.Environment, fitted, input, targetBits, options, settings.Training).ToArray());
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => chain.GetOutputSchema(inputSchema);
}
