using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Samples.ScoringService;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>
/// A bounded load and soak of the scoring service through Kestrel on 127.0.0.1: the service runs as a child
/// process; <c>clients</c> concurrent HttpClients post JSON pixels of the test subset for <c>seconds</c>; every
/// answer is compared with single-threaded in-process scoring; requests/s, p50/p99 latency, errors and the
/// service's working set at start and end are reported.
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

        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0)) { probe.Start(); port = ((IPEndPoint)probe.LocalEndpoint).Port; }
        string dll = Path.Combine(AppContext.BaseDirectory, "ScoringService.dll");
        // Output is not redirected: an unread pipe would fill and stall the service.
        using var service = Process.Start(new ProcessStartInfo("dotnet", $"\"{dll}\" --urls http://127.0.0.1:{port} --Model \"{model}\"") { UseShellExecute = false })!;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            for (var deadline = DateTime.UtcNow.AddSeconds(60); ; await Task.Delay(200))
            {
                try { if ((await http.GetAsync("/health")).IsSuccessStatusCode) break; }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline && !service.HasExited) { }
            }
            foreach (var p in pixels.Take(20)) await http.PostAsJsonAsync("/predict", new { pixels = p }); // warm up
            service.Refresh();
            long startSet = service.WorkingSet64;

            var latencies = new List<double>[clients];
            int errors = 0, mismatches = 0;
            var stop = Stopwatch.StartNew();
            await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
            {
                latencies[c] = new List<double>();
                using var client = new HttpClient { BaseAddress = http.BaseAddress };
                for (int i = c; stop.Elapsed.TotalSeconds < seconds; i += clients)
                {
                    int k = i % pixels.Length;
                    var watch = Stopwatch.StartNew();
                    var response = await client.PostAsJsonAsync("/predict", new { pixels = pixels[k] });
                    latencies[c].Add(watch.Elapsed.TotalMilliseconds);
                    if (!response.IsSuccessStatusCode) { Interlocked.Increment(ref errors); continue; }
                    var answer = await response.Content.ReadFromJsonAsync<PredictResponse>();
                    if (answer!.Label != expected[k].Label || !answer.Scores.SequenceEqual(expected[k].Scores)) Interlocked.Increment(ref mismatches);
                }
            }));
            double elapsed = stop.Elapsed.TotalSeconds;
            service.Refresh();
            long endSet = service.WorkingSet64;
            var all = latencies.SelectMany(l => l).OrderBy(l => l).ToArray();
            var result = new
            {
                model, clients, seconds = elapsed, requests = all.Length, requestsPerSecond = all.Length / elapsed,
                p50Milliseconds = all[all.Length / 2], p99Milliseconds = all[(int)(all.Length * 0.99)], errors, mismatches,
                workingSetStartMiB = startSet / 1048576.0, workingSetEndMiB = endSet / 1048576.0,
            };
            Directory.CreateDirectory(outDir);
            File.WriteAllText(Path.Combine(outDir, "service-load.json"), JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
            File.WriteAllText(Path.Combine(outDir, "service-load.md"), string.Join("\n",
                "# Scoring service under load (Kestrel on 127.0.0.1, JSON pixels, this machine's 2 cores shared by clients and service)", "",
                $"Command: `dotnet run --project src/Samples/Benchmarks -c Release -- service-load --model {model} --clients {clients} --seconds {seconds}`", "",
                "| clients | seconds | requests | requests/s | p50 ms | p99 ms | errors | answers ≠ single-threaded | working set start → end (MiB) |",
                "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
                $"| {clients} | {elapsed:F1} | {all.Length:N0} | {result.requestsPerSecond:F0} | {result.p50Milliseconds:F2} | {result.p99Milliseconds:F2} | {errors} | {mismatches} | {result.workingSetStartMiB:F0} → {result.workingSetEndMiB:F0} |", ""));
            Console.WriteLine(File.ReadAllText(Path.Combine(outDir, "service-load.md")));
            return errors == 0 && mismatches == 0 ? 0 : 1;
        }
        finally
        {
            service.Kill(entireProcessTree: true);
        }
    }
}
