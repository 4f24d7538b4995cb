using Microsoft.ML.Data;
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
    /// <summary>Trains the image classifier in FP32, then quantizes it to <paramref name="targetBits"/> average bits.</summary>
    /// <param name="estimator">The image classifier trainer.</param>
    /// <param name="targetBits">Target average bitwidth of weights and activations (see <see cref="AutoQuantizationOptions.TargetWeightBits"/>).</param>
    /// <param name="options">Stage epochs and options; null for defaults.</param>
    public static AutoQuantizationEstimator<ImageClassifierTransformer> QuantizeAutomatically(this ImageClassifierEstimator estimator, int targetBits = 2, AutoQuantizationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(estimator);
        return new AutoQuantizationEstimator<ImageClassifierTransformer>(TrainerSettings.Of(estimator)!, estimator, targetBits, options);
    }

    /// <summary>Trains the text LSTM in FP32, then quantizes it to <paramref name="targetBits"/> average bits.</summary>
    /// <param name="estimator">The text classifier trainer.</param>
    /// <param name="targetBits">Target average bitwidth of weights and activations.</param>
    /// <param name="options">Stage epochs and options; null for defaults.</param>
    public static AutoQuantizationEstimator<TextLstmTransformer> QuantizeAutomatically(this TextLstmEstimator estimator, int targetBits = 2, AutoQuantizationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(estimator);
        return new AutoQuantizationEstimator<TextLstmTransformer>(TrainerSettings.Of(estimator)!, estimator, targetBits, options);
    }

    /// <summary>Fits the chain (its classifier in FP32), then quantizes the classifier to <paramref name="targetBits"/> average bits.</summary>
    /// <param name="chain">A chain whose last estimator trains a graph classifier.</param>
    /// <param name="targetBits">Target average bitwidth of weights and activations.</param>
    /// <param name="options">Stage epochs and options; null for defaults.</param>
    public static AutoQuantizationChainEstimator<TTransformer> QuantizeAutomatically<TTransformer>(this EstimatorChain<TTransformer> chain, int targetBits = 2, AutoQuantizationOptions? options = null)
        where TTransformer : GraphClassifierTransformerBase
    {
        ArgumentNullException.ThrowIfNull(chain);
        var settings = TrainerSettings.Of(chain.LastEstimator) ?? throw new ArgumentException("The chain must end in an ImageClassifier or TextLstm trainer.", nameof(chain));
        return new AutoQuantizationChainEstimator<TTransformer>(settings, chain, targetBits, options);
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

/// <summary>Quantization operations on trained models (<c>mlContext.Quantization()</c>).</summary>
public sealed class QuantizationCatalog
{
    private readonly IHostEnvironment environment;

    internal QuantizationCatalog(IHostEnvironment environment) => this.environment = environment;

    /// <summary>
    /// Imports a classifier trained elsewhere (PyTorch, Keras, ML.NET) from an ONNX file as a fitted FP32 classifier: an
    /// <see cref="ImageClassifierTransformer"/> for float input (images [N,C,H,W] or vectors [N,F]), or a
    /// <see cref="TextLstmTransformer"/> for token ids [N,T] (give <see cref="OnnxImportOptions.Vocabulary"/>). It scores
    /// through the packed runtime, saves and loads like any MLQuant model, and is a trained model for
    /// <see cref="QuantizeAutomatically(ITransformer, IDataView, int, AutoQuantizationOptions?)"/>.
    /// <para>
    /// Imported operators (opsets 11–21): Conv (grouped and depthwise too), BatchNormalization, Relu, PRelu (one slope or one per channel), LeakyRelu, Clip from 0
    /// (ReLU, ReLU6), MaxPool, AveragePool, GlobalAveragePool, Gemm, MatMul, Add of two values (residual), Add, Sub, Mul and Div by
    /// constants that fold into the layer before or into the input scale, Flatten, Reshape, Squeeze, Unsqueeze, Transpose
    /// that only moves the batch, Gather (embedding), a forward LSTM whose last hidden state is used, Dropout, Identity,
    /// Cast, Pad of zeros, a trailing Softmax, and constant subgraphs (Constant, Shape → Gather → Unsqueeze → Concat, Slice, Cast of initializers).
    /// </para>
    /// </summary>
    /// <param name="path">The .onnx file.</param>
    /// <param name="options">Input, output, class names and input scale; null for defaults.</param>
    /// <exception cref="FileNotFoundException">There is no file at <paramref name="path"/>.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid ONNX model, or is larger than <see cref="OnnxImportOptions.MaxFileBytes"/>.</exception>
    /// <exception cref="NotSupportedException">A node, attribute, opset, data type or external data that MLQuant does not import; the message names the node, its op type and the opset.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The options do not fit the model (an unknown input or output name, a class count or vocabulary of another size).</exception>
    public GraphClassifierTransformerBase ImportOnnx(string path, OnnxImportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new OnnxImportOptions();
        options.Validate();
        return OnnxClassifierImport.Import(path, options);
    }

    /// <summary>
    /// Quantizes an already trained FP32 classifier automatically: <paramref name="trainedModel"/> is an
    /// <see cref="ImageClassifierTransformer"/> or <see cref="TextLstmTransformer"/>, or a transformer chain
    /// holding one (the transforms before it are applied to <paramref name="trainData"/> first, those after it
    /// are kept). Returns a model of the same shape (a chain typed on its classifier stays so typed, any other
    /// chain comes back as a chain of <see cref="ITransformer"/>); its classifier exposes
    /// <see cref="GraphClassifierTransformerBase.QuantizationReport"/>.
    /// </summary>
    /// <param name="trainedModel">The trained model.</param>
    /// <param name="trainData">Training data, with the label column.</param>
    /// <param name="targetBits">Target average bitwidth of weights and activations.</param>
    /// <param name="options">Stage epochs and options; null for defaults (the search trains with Adam at 2e-4).</param>
    /// <exception cref="ArgumentException">The model holds no graph classifier.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The label column's classes are not the classifier's, in its order.</exception>
    /// <exception cref="InvalidOperationException">The classifier is already quantized.</exception>
    public ITransformer QuantizeAutomatically(ITransformer trainedModel, IDataView trainData, int targetBits = 2, AutoQuantizationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(trainedModel);
        ArgumentNullException.ThrowIfNull(trainData);
        var quantized = trainedModel is IEnumerable<ITransformer> chain
            ? ClassifierQuantization.QuantizeClassifierIn(environment, chain, trainData, targetBits, options, null)
            : new[] { ClassifierQuantization.QuantizeClassifierIn(environment, new[] { trainedModel }, trainData, targetBits, options, null)[0] };
        return trainedModel switch
        {
            TransformerChain<ImageClassifierTransformer> => new TransformerChain<ImageClassifierTransformer>(quantized.ToArray()),
            TransformerChain<TextLstmTransformer> => new TransformerChain<TextLstmTransformer>(quantized.ToArray()),
            IEnumerable<ITransformer> => new TransformerChain<ITransformer>(quantized.ToArray()),
            _ => quantized[0],
        };
    }
}
