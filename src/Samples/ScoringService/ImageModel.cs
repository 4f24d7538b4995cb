using Microsoft.Extensions.ObjectPool;
using Microsoft.ML.Data;
using SkiaSharp;

namespace Microsoft.ML.Quantization.Samples.ScoringService;

/// <summary>One image as the classifier's pixel vector (renamed to its input column at engine creation).</summary>
public sealed class PixelInput
{
    /// <summary>Row-major pixels, 0–255.</summary>
    public float[] Pixels { get; set; } = Array.Empty<float>();
}

/// <summary>The classifier's outputs.</summary>
public sealed class PixelPrediction
{
    /// <summary>Class probabilities.</summary>
    public float[] Score { get; set; } = Array.Empty<float>();

    /// <summary>1-based key of the predicted class.</summary>
    public uint PredictedLabel { get; set; }
}

/// <summary>
/// The loaded classifier: finds the <see cref="ImageClassifierTransformer"/> in a saved model, pools prediction
/// engines over it (one engine per concurrent request), and turns PNG/JPEG bytes into its pixel vector.
/// </summary>
public sealed class ImageModel
{
    private readonly ObjectPool<PredictionEngine<PixelInput, PixelPrediction>> engines;

    /// <summary>Loads <paramref name="path"/>; throws <see cref="InvalidOperationException"/> if it holds no image classifier.</summary>
    public ImageModel(string path)
    {
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterQuantization();
        var model = ml.Model.Load(path, out _);
        Classifier = (model is IEnumerable<ITransformer> chain ? chain : new[] { model }).OfType<ImageClassifierTransformer>().LastOrDefault()
            ?? throw new InvalidOperationException($"'{path}' holds no ImageClassifier transformer.");
        Shape = Classifier.Graph.InputShape.ToArray();
        int length = Shape.Aggregate(1, (a, b) => a * b);
        var definition = SchemaDefinition.Create(typeof(PixelInput));
        definition[nameof(PixelInput.Pixels)].ColumnName = Classifier.InputColumnName;
        definition[nameof(PixelInput.Pixels)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, length);
        engines = new DefaultObjectPoolProvider { MaximumRetained = Environment.ProcessorCount * 2 }
            .Create(new EnginePolicy(() => ml.Model.CreatePredictionEngine<PixelInput, PixelPrediction>(Classifier, inputSchemaDefinition: definition)));
    }

    /// <summary>The classifier.</summary>
    public ImageClassifierTransformer Classifier { get; }

    /// <summary>The network's input shape [C,H,W].</summary>
    public int[] Shape { get; }

    /// <summary>Values per image.</summary>
    public int Length => Shape.Aggregate(1, (a, b) => a * b);

    /// <summary>Scores one pixel vector of <see cref="Length"/> values.</summary>
    public (string Label, IReadOnlyDictionary<string, float> Scores) Predict(float[] pixels)
    {
        var engine = engines.Get();
        try
        {
            var prediction = engine.Predict(new PixelInput { Pixels = pixels });
            var names = Classifier.ClassNames;
            return (names[(int)prediction.PredictedLabel - 1], names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => prediction.Score[p.i]));
        }
        finally
        {
            engines.Return(engine);
        }
    }

    /// <summary>
    /// The pixel vector of an encoded PNG or JPEG image: resized to the network's H×W, the red channel of each
    /// pixel as 0–255 (grey images have R = G = B), as ImageAnalytics' ExtractPixels(Red) gives it. Null if the
    /// bytes are not an image, or the network takes more than one channel.
    /// </summary>
    public float[]? Decode(byte[] encoded)
    {
        if (Shape[0] != 1) return null;
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data); // null for bytes no codec recognises (SKBitmap.Decode would throw)
        if (codec is null) return null;
        using var bitmap = SKBitmap.Decode(codec);
        if (bitmap is null) return null;
        using var resized = bitmap.Width == Shape[2] && bitmap.Height == Shape[1] ? bitmap.Copy() : bitmap.Resize(new SKImageInfo(Shape[2], Shape[1]), new SKSamplingOptions(SKCubicResampler.Mitchell));
        var pixels = new float[Length];
        for (int y = 0; y < Shape[1]; y++)
            for (int x = 0; x < Shape[2]; x++)
                pixels[y * Shape[2] + x] = resized.GetPixel(x, y).Red;
        return pixels;
    }

    private sealed class EnginePolicy(Func<PredictionEngine<PixelInput, PixelPrediction>> create) : PooledObjectPolicy<PredictionEngine<PixelInput, PixelPrediction>>
    {
        public override PredictionEngine<PixelInput, PixelPrediction> Create() => create();

        public override bool Return(PredictionEngine<PixelInput, PixelPrediction> engine) => true;
    }
}
