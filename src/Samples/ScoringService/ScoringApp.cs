using Microsoft.AspNetCore.Http.HttpResults;

namespace Microsoft.ML.Quantization.Samples.ScoringService;

/// <summary>
/// The scoring service as an app: a saved model behind <c>/predict</c>, <c>/model</c> and <c>/health</c>, run through its
/// own pipeline. This sample's entry point and <c>mlquant serve</c> both build it here.
/// </summary>
public static class ScoringApp
{
    /// <summary>The request body limit when <c>MaxRequestBytes</c> is not set.</summary>
    public const long DefaultMaxRequestBytes = 1 << 20;

    /// <summary>
    /// Builds the service from ASP.NET configuration arguments: <c>--Model PATH</c> (relative to the current directory),
    /// <c>--urls</c>, <c>--MaxRequestBytes</c>. The model is loaded before the host starts, so that one it cannot
    /// serve stops it with one message.
    /// </summary>
    /// <exception cref="UsageException">No model at the path.</exception>
    /// <exception cref="InvalidOperationException">The model cannot be served (see <see cref="ServedModel"/>).</exception>
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        string modelPath = Path.GetFullPath(builder.Configuration["Model"] ?? Path.Combine("artifacts", "image-classification", "model.zip"));
        if (!File.Exists(modelPath)) throw new UsageException($"No model at '{modelPath}': run the main job first, or pass --Model PATH (relative to the current directory).");
        // A failure to start (a port in use) reaches SampleMain as the exception, one line; the host's own log would add its stack.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
        // One line per request would drown the startup lines; the content root is the user's directory, so this is
        // not left to an appsettings.json.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        long maxBytes = builder.Configuration.GetValue<long?>("MaxRequestBytes") ?? DefaultMaxRequestBytes;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = maxBytes);
        // An instance handed to the container is not disposed by it, so the host's stop disposes it (its upload folder).
        var served = new ServedModel(modelPath);
        builder.Services.AddSingleton(served);
        builder.Services.AddProblemDetails();

        var app = builder.Build();
        app.Lifetime.ApplicationStopped.Register(served.Dispose);
        app.UseExceptionHandler(); // problem details without exception text, in every environment
        app.UseStatusCodePages();
        app.MapGet("/health", () => Results.Ok(new { status = "ok" }));
        app.MapGet("/model", (ServedModel model) => Results.Ok(DescribeModel(model)));
        app.MapPost("/predict", (HttpRequest request, ServedModel model) => Predict(request, model, maxBytes));
        return app;
    }

    private static object DescribeModel(ServedModel model)
    {
        var report = model.Classifier.QuantizationReport;
        return new
        {
            input = model.Kind.ToString().ToLowerInvariant(),
            inputColumn = model.InputColumn,
            request = DescribeRequest(model),
            classes = model.Classifier.ClassNames,
            inputShape = model.Classifier.Graph.InputShape,
            averageWeightBits = report?.AverageWeightBits,
            averageActivationBits = report?.AverageActivationBits,
            layers = report?.Layers.Select(l => new { l.Layer, weights = l.Weights.ToString(), l.WeightCount, l.WeightBytes, activations = l.Activations?.ToString(), l.ActivationCount }),
        };
    }

    private static async Task<Results<Ok<PredictResponse>, ProblemHttpResult>> Predict(HttpRequest request, ServedModel model, long maxBytes)
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
        if (prediction is not var (label, scores)) return TypedResults.Problem(DescribeRequest(model), statusCode: StatusCodes.Status400BadRequest);
        return TypedResults.Ok(new PredictResponse(label, scores));
    }

    // Reads at most maxBytes; null if the body is longer (a chunked body has no Content-Length to check first).
    private static async Task<byte[]?> ReadBounded(Stream body, long maxBytes, CancellationToken cancel)
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
    private static string DescribeRequest(ServedModel model) => model.Kind switch
    {
        ServedInputKind.Image => "Send the image's bytes (PNG, JPEG or BMP, any size; the model's pipeline decodes, resizes and converts them).",
        ServedInputKind.Text => "Send JSON {\"text\": \"...\"} or the text itself as text/plain.",
        _ => $"Send JSON {{\"pixels\": [...]}} with {model.Length} values, no NaN, and Content-Type application/json.",
    };

    private static PredictRequest? ReadJson(byte[] body)
    {
        try { return System.Text.Json.JsonSerializer.Deserialize<PredictRequest>(body, System.Text.Json.JsonSerializerOptions.Web); }
        catch (System.Text.Json.JsonException) { return null; }
    }

    private static string? ReadText(byte[] body, bool json)
    {
        if (json) return ReadJson(body)?.Text;
        try { return new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body); }
        catch (System.Text.DecoderFallbackException) { return null; }
    }
}

/// <summary>A JSON prediction request.</summary>
/// <param name="Pixels">A pixel model's row-major pixels.</param>
/// <param name="Text">A text model's text.</param>
public sealed record PredictRequest(float[]? Pixels, string? Text);

/// <summary>A prediction.</summary>
/// <param name="Label">The predicted class.</param>
/// <param name="Scores">Probability per class.</param>
public sealed record PredictResponse(string Label, IReadOnlyDictionary<string, float> Scores);

