using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Samples.ScoringService;

// Serves a saved MLQuant model through its own pipeline (the service decodes nothing itself):
//   dotnet run --project src/Samples/ScoringService -c Release -- --Model artifacts/image-classification/model.zip [--urls http://127.0.0.1:5080] [--MaxRequestBytes 1048576] [--verbose]
//   POST /predict   an image model: the image bytes (whatever its LoadImages reads: PNG, JPEG, BMP…, any size);
//                   a text model: JSON {"text":"..."} or text/plain; a pixel model: JSON {"pixels":[...]}
//                   → {"label": "...", "scores": {...}}
//   GET  /health    → {"status":"ok"}
//   GET  /model     → what /predict takes, the classes, the network's input shape and the quantization report
return SampleMain.Run(args, Serve);

static int Serve(string[] args)
{
    var builder = WebApplication.CreateBuilder(args);
    // Relative to the directory the user runs the command in (RunWorkingDirectory in the csproj keeps it for dotnet run).
    string modelPath = Path.GetFullPath(builder.Configuration["Model"] ?? Path.Combine("artifacts", "image-classification", "model.zip"));
    if (!File.Exists(modelPath)) throw new UsageException($"No model at '{modelPath}': run the main job first, or pass --Model PATH (relative to the current directory).");
    // A failure to start (a port in use) reaches SampleMain as the exception, one line; the host's own log would add its stack.
    builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
    long maxBytes = builder.Configuration.GetValue<long?>("MaxRequestBytes") ?? 1 << 20;
    builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = maxBytes);
    // Loaded before the host starts, so that a model it cannot serve stops it with one line; an instance handed to the
    // container is not disposed by it, so the host's stop disposes it (its upload folder).
    var served = new ServedModel(modelPath);
    builder.Services.AddSingleton(served);
    builder.Services.AddProblemDetails();

    var app = builder.Build();
    app.Lifetime.ApplicationStopped.Register(served.Dispose);
    app.UseExceptionHandler(); // problem details without exception text, in every environment
    app.UseStatusCodePages();

    app.MapGet("/health", () => Results.Ok(new { status = "ok" }));

    app.MapGet("/model", (ServedModel model) =>
    {
        var report = model.Classifier.QuantizationReport;
        return Results.Ok(new
        {
            input = model.Kind.ToString().ToLowerInvariant(),
            inputColumn = model.InputColumn,
            request = Describe(model),
            classes = model.Classifier.ClassNames,
            inputShape = model.Classifier.Graph.InputShape,
            averageWeightBits = report?.AverageWeightBits,
            averageActivationBits = report?.AverageActivationBits,
            layers = report?.Layers.Select(l => new { l.Layer, weights = l.Weights.ToString(), l.WeightCount, l.WeightBytes, activations = l.Activations?.ToString(), l.ActivationCount }),
        });
    });

    app.MapPost("/predict", async Task<Results<Ok<PredictResponse>, ProblemHttpResult>> (HttpRequest request, ServedModel model) =>
    {
        if (request.ContentLength > maxBytes) return TypedResults.Problem($"The body exceeds {maxBytes} bytes.", statusCode: StatusCodes.Status413PayloadTooLarge);
        var body = await ReadBounded(request.Body, maxBytes, request.HttpContext.RequestAborted);
        if (body is null) return TypedResults.Problem($"The body exceeds {maxBytes} bytes.", statusCode: StatusCodes.Status413PayloadTooLarge);
        bool json = request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true;
        var prediction = model.Kind switch
        {
            ServedInputKind.Image => json ? null : model.PredictImage(body),
            ServedInputKind.Text => ReadText(body, json) is string text ? model.PredictText(text) : null,
            _ => json && ReadJson(body)?.Pixels is float[] pixels && pixels.Length == model.Length && !pixels.Any(float.IsNaN) ? model.Predict(pixels) : null,
        };
        if (prediction is not var (label, scores)) return TypedResults.Problem(Describe(model), statusCode: StatusCodes.Status400BadRequest);
        return TypedResults.Ok(new PredictResponse(label, scores));
    });

    app.Run();
    return 0;
}

// Reads at most maxBytes; null if the body is longer (a chunked body has no Content-Length to check first).
static async Task<byte[]?> ReadBounded(Stream body, long maxBytes, CancellationToken cancel)
{
    using var buffer = new MemoryStream();
    var chunk = new byte[81920];
    int read;
    while ((read = await body.ReadAsync(chunk, cancel)) > 0)
    {
        if (buffer.Length + read > maxBytes) return null;
        buffer.Write(chunk, 0, read);
    }
    return buffer.ToArray();
}

// What /predict takes, as its 400 answer says it.
static string Describe(ServedModel model) => model.Kind switch
{
    ServedInputKind.Image => "Send the image's bytes (PNG, JPEG or BMP, any size; the model's pipeline decodes, resizes and converts them).",
    ServedInputKind.Text => "Send JSON {\"text\": \"...\"} or the text itself as text/plain.",
    _ => $"Send JSON {{\"pixels\": [...]}} with {model.Length} values, no NaN, and Content-Type application/json.",
};

static PredictRequest? ReadJson(byte[] body)
{
    try { return System.Text.Json.JsonSerializer.Deserialize<PredictRequest>(body, System.Text.Json.JsonSerializerOptions.Web); }
    catch (System.Text.Json.JsonException) { return null; }
}

static string? ReadText(byte[] body, bool json)
{
    if (json) return ReadJson(body)?.Text;
    try { return new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body); }
    catch (System.Text.DecoderFallbackException) { return null; }
}

/// <summary>A JSON prediction request.</summary>
/// <param name="Pixels">A pixel model's row-major pixels.</param>
/// <param name="Text">A text model's text.</param>
public sealed record PredictRequest(float[]? Pixels, string? Text);

/// <summary>A prediction.</summary>
/// <param name="Label">The predicted class.</param>
/// <param name="Scores">Probability per class.</param>
public sealed record PredictResponse(string Label, IReadOnlyDictionary<string, float> Scores);

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
