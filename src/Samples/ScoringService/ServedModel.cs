using Microsoft.Extensions.ObjectPool;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.Quantization.Samples.ScoringService;

/// <summary>What a served model takes in a request.</summary>
public enum ServedInputKind
{
    /// <summary>An encoded image: the model's own LoadImages, resizing and pixel extraction turn it into the network's input.</summary>
    Image,
    /// <summary>Text, for a TextLstm classifier (its vocabulary tokenises it).</summary>
    Text,
    /// <summary>The classifier's pixel vector itself, for a model whose pipeline starts at pixels.</summary>
    Pixels,
}

/// <summary>One request row: the model's input column (a path to the posted image, the text, or the pixels) and its other text input column, if any, left empty.</summary>
public sealed class ServedInput
{
    /// <summary>The image path or the text.</summary>
    public string Value { get; set; } = "";

    /// <summary>The pixel vector.</summary>
    public float[] Pixels { get; set; } = Array.Empty<float>();

    /// <summary>Another text column the saved pipeline reads (the label a training pipeline maps to a key), empty in scoring.</summary>
    public string Other { get; set; } = "";
}

/// <summary>The classifier's outputs.</summary>
public sealed class ServedPrediction
{
    /// <summary>Class probabilities.</summary>
    public float[] Score { get; set; } = Array.Empty<float>();

    /// <summary>1-based key of the predicted class.</summary>
    public uint PredictedLabel { get; set; }
}

/// <summary>
/// A saved MLQuant model as the service runs it: the whole saved pipeline, from the column its first transform reads
/// (an image path, text or pixels) to the classifier's prediction, in pooled prediction engines (one per concurrent
/// request). The service decodes nothing itself: a posted image is handed to the pipeline's LoadImages as a file.
/// </summary>
public sealed class ServedModel : IDisposable
{
    private readonly ObjectPool<PredictionEngine<ServedInput, ServedPrediction>> engines;
    private readonly string uploads = Directory.CreateTempSubdirectory("mlquant-service-").FullName;

    /// <summary>Loads <paramref name="path"/>.</summary>
    /// <exception cref="InvalidOperationException">The model holds no MLQuant classifier, or its pipeline reads input columns the service cannot fill.</exception>
    public ServedModel(string path)
    {
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterQuantization();
        var model = Model = ml.Model.Load(path, out var inputSchema);
        var chain = Flatten(model).ToList();
        Classifier = chain.OfType<GraphClassifierTransformerBase>().LastOrDefault()
            ?? throw new InvalidOperationException($"'{path}' holds no MLQuant classifier (ImageClassifier or TextLstm).");
        var loader = chain.OfType<ImageLoadingTransformer>().FirstOrDefault();
        Kind = loader is not null ? ServedInputKind.Image : Classifier is TextLstmTransformer ? ServedInputKind.Text : ServedInputKind.Pixels;
        InputColumn = (loader is null ? Classifier.InputColumnName : PathColumn(loader, inputSchema))
            ?? throw new InvalidOperationException($"The pipeline in '{path}' loads images from a column that is not among its input columns.");
        var input = inputSchema.GetColumnOrNull(InputColumn)
            ?? throw new InvalidOperationException($"The pipeline in '{path}' reads '{InputColumn}', which is not among its input columns.");
        var others = inputSchema.Where(c => c.Name != InputColumn).ToList();
        if (others.Count > 1 || others.Any(c => c.Type is not TextDataViewType))
            throw new InvalidOperationException($"The pipeline in '{path}' also reads {string.Join(", ", others.Select(c => $"'{c.Name}' ({c.Type})"))}; the service fills one other text column at most.");

        var definition = SchemaDefinition.Create(typeof(ServedInput));
        definition.RemoveAll(c => c.MemberName == (Kind == ServedInputKind.Pixels ? nameof(ServedInput.Value) : nameof(ServedInput.Pixels)));
        var value = definition.Single(c => c.MemberName is nameof(ServedInput.Value) or nameof(ServedInput.Pixels));
        value.ColumnName = InputColumn;
        if (Kind == ServedInputKind.Pixels) value.ColumnType = input.Type;
        if (others.Count == 1) definition.Single(c => c.MemberName == nameof(ServedInput.Other)).ColumnName = others[0].Name;
        else definition.RemoveAll(c => c.MemberName == nameof(ServedInput.Other));
        Length = Kind == ServedInputKind.Pixels && input.Type is VectorDataViewType vector ? vector.Size : 0;
        engines = new DefaultObjectPoolProvider { MaximumRetained = Environment.ProcessorCount * 2 }
            .Create(new EnginePolicy(() => ml.Model.CreatePredictionEngine<ServedInput, ServedPrediction>(model, inputSchemaDefinition: definition)));
    }

    /// <summary>The saved pipeline, as loaded.</summary>
    public ITransformer Model { get; }

    /// <summary>What a request carries.</summary>
    public ServedInputKind Kind { get; }

    /// <summary>The input column the pipeline starts from.</summary>
    public string InputColumn { get; }

    /// <summary>The classifier at the end of the pipeline.</summary>
    public GraphClassifierTransformerBase Classifier { get; }

    /// <summary>Values per pixel vector (<see cref="ServedInputKind.Pixels"/>), else 0.</summary>
    public int Length { get; }

    /// <summary>Scores a pixel vector of <see cref="Length"/> values.</summary>
    public (string Label, IReadOnlyDictionary<string, float> Scores) Predict(float[] pixels) => Predict(new ServedInput { Pixels = pixels });

    /// <summary>Scores a text.</summary>
    public (string Label, IReadOnlyDictionary<string, float> Scores) PredictText(string text) => Predict(new ServedInput { Value = text });

    /// <summary>Scores an encoded image through the pipeline's LoadImages; null where it cannot decode the bytes.</summary>
    public (string Label, IReadOnlyDictionary<string, float> Scores)? PredictImage(byte[] encoded)
    {
        string file = Path.Combine(uploads, Guid.NewGuid().ToString("N"));
        File.WriteAllBytes(file, encoded);
        try
        {
            return Predict(new ServedInput { Value = file });
        }
        catch (ArgumentException) // what LoadImages throws for bytes no codec reads
        {
            return null;
        }
        finally
        {
            File.Delete(file);
        }
    }

    private (string Label, IReadOnlyDictionary<string, float> Scores) Predict(ServedInput input)
    {
        var engine = engines.Get();
        try
        {
            var prediction = engine.Predict(input);
            var names = Classifier.ClassNames;
            return (names[(int)prediction.PredictedLabel - 1], names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => prediction.Score[p.i]));
        }
        finally
        {
            engines.Return(engine);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => Directory.Delete(uploads, recursive: true);

    /// <summary>The input text column LoadImages reads its paths from: the one without which it refuses the schema.</summary>
    private static string? PathColumn(ImageLoadingTransformer loader, DataViewSchema input) =>
        input.Where(c => c.Type is TextDataViewType).Select(c => c.Name).FirstOrDefault(name =>
        {
            var builder = new DataViewSchema.Builder();
            builder.AddColumns(input.Where(c => c.Name != name));
            try
            {
                loader.GetOutputSchema(builder.ToSchema());
                return false;
            }
            catch (ArgumentOutOfRangeException)
            {
                return true;
            }
        });

    private static IEnumerable<ITransformer> Flatten(ITransformer model) =>
        model is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : new[] { model };

    private sealed class EnginePolicy(Func<PredictionEngine<ServedInput, ServedPrediction>> create) : PooledObjectPolicy<PredictionEngine<ServedInput, ServedPrediction>>
    {
        public override PredictionEngine<ServedInput, ServedPrediction> Create() => create();

        public override bool Return(PredictionEngine<ServedInput, ServedPrediction> engine) => true;
    }
}
