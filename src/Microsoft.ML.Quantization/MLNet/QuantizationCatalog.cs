using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.MLNet.AutoQuantization;
using Microsoft.ML.Quantization.MLNet.Onnx;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Quantization;

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
    /// <see cref="ImageClassifierTransformer"/> or <see cref="TextLstmTransformer"/> (fitted, loaded or imported), or a
    /// transformer chain holding one (the transforms before it are applied to <paramref name="trainData"/> first, those after
    /// it are kept). Returns a model of the same shape (a chain typed on its classifier stays so typed, any other chain comes
    /// back as a chain of <see cref="ITransformer"/>); its classifier exposes <see cref="GraphClassifierTransformerBase.QuantizationReport"/>.
    /// </summary>
    /// <param name="trainedModel">The trained model.</param>
    /// <param name="trainData">Training data, with the label column.</param>
    /// <param name="targetBits">Target average bitwidth of weights and activations.</param>
    /// <param name="options">Stage epochs and options; null for defaults (the search trains with Adam at 2e-4).</param>
    /// <exception cref="ArgumentException">The model holds no graph classifier.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The label column's classes are not the classifier's, in its order.</exception>
    /// <exception cref="InvalidOperationException">The classifier is already quantized.</exception>
    public ITransformer QuantizeAutomatically(ITransformer trainedModel, IDataView trainData, int targetBits = 2, AutoQuantizationOptions? options = null) =>
        Run(trainedModel, trainData, QuantizationPlan.Automatic(targetBits, options));

    /// <summary>QSS on a trained FP32 classifier (see <see cref="QuantizationStages{TSelf}.SearchSchemes"/> and, for the model's shape, <see cref="QuantizeAutomatically"/>).</summary>
    /// <param name="trainedModel">The trained model.</param>
    /// <param name="trainData">Training data, with the label column.</param>
    /// <param name="options">Candidates, granularity, temperature and search bits; null for the defaults.</param>
    /// <param name="epochs">Search epochs.</param>
    /// <exception cref="ArgumentException">The model holds no graph classifier.</exception>
    /// <exception cref="InvalidOperationException">The classifier is already quantized.</exception>
    public ITransformer SearchSchemes(ITransformer trainedModel, IDataView trainData, SchemeSearchOptions? options = null, int epochs = 1) =>
        Run(trainedModel, trainData, QuantizationPlan.Empty.SearchSchemes(options, epochs));

    /// <summary>QPL of ClipQ's bitwidths on a trained FP32 classifier (see <see cref="QuantizationStages{TSelf}.LearnPrecision"/>).</summary>
    /// <param name="trainedModel">The trained model.</param>
    /// <param name="trainData">Training data, with the label column.</param>
    /// <param name="targetBits">Target average bitwidth of weights and activations.</param>
    /// <param name="options">λ and the bit range; null for the defaults.</param>
    /// <param name="epochs">QPL epochs.</param>
    /// <exception cref="ArgumentException">The model holds no graph classifier.</exception>
    /// <exception cref="UnreachableBitTargetException">No bitwidths reach the target (before any training).</exception>
    /// <exception cref="InvalidOperationException">The classifier is already quantized.</exception>
    public ITransformer LearnPrecision(ITransformer trainedModel, IDataView trainData, int targetBits = 2, PrecisionLearningOptions? options = null, int epochs = 1) =>
        Run(trainedModel, trainData, QuantizationPlan.Empty.LearnPrecision(targetBits, options, epochs));

    /// <summary>Fixed-scheme quantization-aware training of a trained FP32 classifier (see <see cref="QuantizationStages{TSelf}.QuantizeWith"/>).</summary>
    /// <param name="trainedModel">The trained model.</param>
    /// <param name="trainData">Training data, with the label column.</param>
    /// <param name="weights">The weight quantizer.</param>
    /// <param name="activations">The activation quantizer.</param>
    /// <param name="fineTuneEpochs">Training epochs (0 only calibrates).</param>
    /// <exception cref="ArgumentException">The model holds no graph classifier.</exception>
    /// <exception cref="InvalidOperationException">The classifier is already quantized.</exception>
    public ITransformer QuantizeWith(ITransformer trainedModel, IDataView trainData, QuantizerSpec weights, QuantizerSpec activations, int fineTuneEpochs = 2) =>
        Run(trainedModel, trainData, QuantizationPlan.Empty.QuantizeWith(weights, activations, fineTuneEpochs));

    /// <summary>
    /// Trains a quantized classifier (quantized by any stage, then saved and loaded, say) <paramref name="epochs"/> more epochs
    /// with its quantizers as they are, then calibrates it again. It starts from the stored levels of its weights, and trains with
    /// the Adam settings automatic quantization uses.
    /// </summary>
    /// <param name="quantizedModel">The quantized model.</param>
    /// <param name="trainData">Training data, with the label column.</param>
    /// <param name="epochs">Epochs (≥ 1).</param>
    /// <exception cref="ArgumentException">The model holds no graph classifier.</exception>
    /// <exception cref="InvalidOperationException">The classifier is FP32: quantize it first.</exception>
    public ITransformer FineTune(ITransformer quantizedModel, IDataView trainData, int epochs) =>
        epochs < 1 ? throw new ArgumentOutOfRangeException(nameof(epochs), epochs, $"{QuantizationPlan.FineTuneStage}: epochs must be ≥ 1.")
            : Apply(quantizedModel, trainData, QuantizationPlan.FineTuneStage, (classifier, data) => ClassifierQuantization.FineTune(environment, classifier, data, epochs));

    private ITransformer Run(ITransformer trainedModel, IDataView trainData, QuantizationPlan plan) =>
        Apply(trainedModel, trainData, string.Join(", then ", plan.Stages), (classifier, data) => ClassifierQuantization.Quantize(environment, classifier, data, plan.TargetBits, plan.Options, null));

    /// <summary>Applies <paramref name="stage"/> to the model's classifier and returns a model of the same shape.</summary>
    private static ITransformer Apply(ITransformer model, IDataView data, string stageName, Func<GraphClassifierTransformerBase, IDataView, GraphClassifierTransformerBase> stage)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        var quantized = ClassifierQuantization.ReplaceClassifierIn(model as IEnumerable<ITransformer> ?? new[] { model }, data, stageName, stage);
        return model switch
        {
            TransformerChain<ImageClassifierTransformer> => new TransformerChain<ImageClassifierTransformer>(quantized.ToArray()),
            TransformerChain<TextLstmTransformer> => new TransformerChain<TextLstmTransformer>(quantized.ToArray()),
            IEnumerable<ITransformer> => new TransformerChain<ITransformer>(quantized.ToArray()),
            _ => quantized[0],
        };
    }
}
