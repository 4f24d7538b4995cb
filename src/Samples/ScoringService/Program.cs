using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Samples.ScoringService;

// Serves a saved MLQuant image classifier:
//   dotnet run --project src/Samples/ScoringService -c Release -- --Model artifacts/image-classification/model.zip [--urls http://127.0.0.1:5080] [--MaxRequestBytes 1048576] [--verbose]
//   POST /predict   body: a PNG or JPEG image, or JSON {"pixels":[...]} → {"label": "...", "scores": {...}}
//   GET  /health    → {"status":"ok"}
//   GET  /model     → the classifier's classes, input shape and quantization report
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
    builder.Services.AddSingleton(new ImageModel(modelPath));
    builder.Services.AddProblemDetails();

    var app = builder.Build();
    app.UseExceptionHandler(); // problem details without exception text, in every environment
    app.UseStatusCodePages();

    app.MapGet("/health", () => Results.Ok(new { status = "ok" }));

    app.MapGet("/model", (ImageModel model) =>
    {
        var report = model.Classifier.QuantizationReport;
        return Results.Ok(new
        {
            classes = model.Classifier.ClassNames,
            inputShape = model.Shape,
            averageWeightBits = report?.AverageWeightBits,
            averageActivationBits = report?.AverageActivationBits,
            layers = report?.Layers.Select(l => new { l.Layer, weights = l.Weights.ToString(), l.WeightCount, l.WeightBytes, activations = l.Activations?.ToString(), l.ActivationCount }),
        });
    });

    app.MapPost("/predict", async Task<Results<Ok<PredictResponse>, ProblemHttpResult>> (HttpRequest request, ImageModel model) =>
    {
        if (request.ContentLength > maxBytes) return TypedResults.Problem($"The body exceeds {maxBytes} bytes.", statusCode: StatusCodes.Status413PayloadTooLarge);
        var body = await ReadBounded(request.Body, maxBytes, request.HttpContext.RequestAborted);
        if (body is null) return TypedResults.Problem($"The body exceeds {maxBytes} bytes.", statusCode: StatusCodes.Status413PayloadTooLarge);

        float[]? pixels;
        if (request.ContentType?.StartsWith("application/json", StringComparison.OrdinalIgnoreCase) == true)
        {
            try { pixels = System.Text.Json.JsonSerializer.Deserialize<PixelsRequest>(body, new System.Text.Json.JsonSerializerOptions(System.Text.Json.JsonSerializerDefaults.Web))?.Pixels; }
            catch (System.Text.Json.JsonException) { pixels = null; }
            if (pixels is null || pixels.Length != model.Length)
                return TypedResults.Problem($"Send JSON {{\"pixels\": [...]}} with {model.Length} values.", statusCode: StatusCodes.Status400BadRequest);
            if (pixels.Any(float.IsNaN)) return TypedResults.Problem("The pixels hold NaN.", statusCode: StatusCodes.Status400BadRequest);
        }
        else
        {
            pixels = model.Decode(body);
            if (pixels is null) return TypedResults.Problem("The body is not a PNG or JPEG image (or JSON pixels with Content-Type application/json).", statusCode: StatusCodes.Status400BadRequest);
        }
        var (label, scores) = model.Predict(pixels);
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

/// <summary>A JSON prediction request.</summary>
/// <param name="Pixels">Row-major pixels, 0–255.</param>
public sealed record PixelsRequest(float[]? Pixels);

/// <summary>A prediction.</summary>
/// <param name="Label">The predicted class.</param>
/// <param name="Scores">Probability per class.</param>
public sealed record PredictResponse(string Label, IReadOnlyDictionary<string, float> Scores);

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
