using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Samples.ScoringService;
using Microsoft.ML.Quantization.Samples.ScoringService.Load;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>
/// A bounded load and soak of the scoring service through Kestrel on 127.0.0.1 (<see cref="ServiceSoak"/>):
/// <c>clients</c> concurrent HttpClients post test images for <c>seconds</c>; every answer is
/// compared with single-threaded in-process scoring (PNGs from the main job's test-images folder for an image pipeline, JSON pixels for a pixel model); requests/s, p50/p99 latency, errors and the service's
/// working set at start and end are reported.
/// </summary>
internal static class ServiceLoadBenchmark
{
    public static async Task<int> Run(string model, string outDir, int clients, int seconds)
    {
        using var reference = new ServedModel(model);
        var (requests, expected) = reference.Kind switch
        {
            // An image pipeline gets the PNGs the main job wrote beside its model, as a client would send them.
            ServedInputKind.Image => Requests(TestImages(model), bytes => new ByteArrayContent(bytes), bytes => reference.PredictImage(bytes) ?? throw new InvalidDataException("A test image did not decode.")),
            ServedInputKind.Pixels => Requests(TestPixels(), pixels => JsonContent.Create(new { pixels }), reference.Predict),
            _ => throw new Microsoft.ML.Quantization.Samples.UsageException($"'{model}' is a text model; the load benchmark posts images or pixels."),
        };

        using var service = await LoopbackService.StartAsync(model);
        var result = await ServiceSoak.RunAsync(service, requests, expected, clients, TimeSpan.FromSeconds(seconds));
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "service-load.json"), JsonSerializer.Serialize(new
        {
            model, result.Clients, result.Seconds, result.Requests, result.RequestsPerSecond, result.P50Milliseconds, result.P99Milliseconds, result.Errors, result.Mismatches,
            WorkingSetStartMiB = result.WorkingSetStartBytes / 1048576.0, WorkingSetEndMiB = result.WorkingSetEndBytes / 1048576.0,
        }, new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(outDir, "service-load.md"), string.Join("\n",
            "# Scoring service under load (Kestrel on 127.0.0.1, this machine's 2 cores shared by clients and service)", "",
            $"Command: `dotnet run --project src/Samples/Benchmarks -c Release -- service-load --model {model} --clients {clients} --seconds {seconds}`", "",
            "| clients | seconds | requests | requests/s | p50 ms | p99 ms | errors | answers ≠ single-threaded | working set start → end (MiB) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            $"| {clients} | {result.Seconds:F1} | {result.Requests:N0} | {result.RequestsPerSecond:F0} | {result.P50Milliseconds:F2} | {result.P99Milliseconds:F2} | {result.Errors} | {result.Mismatches} | " +
            $"{result.WorkingSetStartBytes / 1048576.0:F0} → {result.WorkingSetEndBytes / 1048576.0:F0} |", ""));
        Console.WriteLine(File.ReadAllText(Path.Combine(outDir, "service-load.md")));
        return result.Errors == 0 && result.Mismatches == 0 ? 0 : 1;
    }

    private static (IReadOnlyList<Func<HttpContent>>, IReadOnlyList<(string, IReadOnlyDictionary<string, float>)>) Requests<T>(
        IReadOnlyList<T> inputs, Func<T, HttpContent> body, Func<T, (string, IReadOnlyDictionary<string, float>)> predict) =>
        (inputs.Select(input => (Func<HttpContent>)(() => body(input))).ToList(), inputs.Select(predict).ToList());

    private static byte[][] TestImages(string model)
    {
        string folder = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(model))!, "test-images");
        if (!Directory.Exists(folder)) throw new Microsoft.ML.Quantization.Samples.UsageException($"No test images at '{folder}': the main job writes them beside its model.");
        return Directory.EnumerateFiles(folder, "*.png", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Take(200).Select(File.ReadAllBytes).ToArray();
    }

    private static float[][] TestPixels()
    {
        var images = new MLContext().Data.LoadFromIdxImages(Path.Combine("data", "subset", "fashion-mnist", "t10k-images-idx3-ubyte.gz"),
            Path.Combine("data", "subset", "fashion-mnist", "t10k-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames);
        return images.GetColumn<float[]>(DatasetCatalog.PixelsColumn).Take(200).ToArray();
    }
}
