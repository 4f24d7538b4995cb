using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Samples.ScoringService;
using Microsoft.ML.Quantization.Samples.ScoringService.Load;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>
/// A bounded load and soak of the scoring service through Kestrel on 127.0.0.1 (<see cref="ServiceSoak"/>):
/// <c>clients</c> concurrent HttpClients post JSON pixels of the test subset for <c>seconds</c>; every answer is
/// compared with single-threaded in-process scoring; requests/s, p50/p99 latency, errors and the service's
/// working set at start and end are reported.
/// </summary>
internal static class ServiceLoadBenchmark
{
    public static async Task<int> Run(string model, string outDir, int clients, int seconds)
    {
        var ml = new MLContext();
        var images = ml.Data.LoadFromIdxImages(Path.Combine("data", "subset", "fashion-mnist", "t10k-images-idx3-ubyte.gz"),
            Path.Combine("data", "subset", "fashion-mnist", "t10k-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames);
        var pixels = images.GetColumn<float[]>(DatasetCatalog.PixelsColumn).Take(200).ToArray();
        var reference = new ImageModel(model);
        var expected = pixels.Select(p => reference.Predict(p)).ToArray();

        using var service = await LoopbackService.StartAsync(model);
        var result = await ServiceSoak.RunAsync(service, pixels, expected, clients, TimeSpan.FromSeconds(seconds));
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "service-load.json"), JsonSerializer.Serialize(new
        {
            model, result.Clients, result.Seconds, result.Requests, result.RequestsPerSecond, result.P50Milliseconds, result.P99Milliseconds, result.Errors, result.Mismatches,
            WorkingSetStartMiB = result.WorkingSetStartBytes / 1048576.0, WorkingSetEndMiB = result.WorkingSetEndBytes / 1048576.0,
        }, new JsonSerializerOptions { WriteIndented = true }));
        File.WriteAllText(Path.Combine(outDir, "service-load.md"), string.Join("\n",
            "# Scoring service under load (Kestrel on 127.0.0.1, JSON pixels, this machine's 2 cores shared by clients and service)", "",
            $"Command: `dotnet run --project src/Samples/Benchmarks -c Release -- service-load --model {model} --clients {clients} --seconds {seconds}`", "",
            "| clients | seconds | requests | requests/s | p50 ms | p99 ms | errors | answers ≠ single-threaded | working set start → end (MiB) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            $"| {clients} | {result.Seconds:F1} | {result.Requests:N0} | {result.RequestsPerSecond:F0} | {result.P50Milliseconds:F2} | {result.P99Milliseconds:F2} | {result.Errors} | {result.Mismatches} | " +
            $"{result.WorkingSetStartBytes / 1048576.0:F0} → {result.WorkingSetEndBytes / 1048576.0:F0} |", ""));
        Console.WriteLine(File.ReadAllText(Path.Combine(outDir, "service-load.md")));
        return result.Errors == 0 && result.Mismatches == 0 ? 0 : 1;
    }
}
