using System.Diagnostics;

namespace Microsoft.ML.Quantization.Samples.ScoringService.Load;

/// <summary>What a soak measured.</summary>
/// <param name="Clients">Concurrent clients.</param>
/// <param name="Seconds">Wall time of the soak.</param>
/// <param name="Requests">Requests answered (successfully or not).</param>
/// <param name="P50Milliseconds">Median request latency.</param>
/// <param name="P99Milliseconds">99th percentile request latency.</param>
/// <param name="Errors">Answers that were not 2xx, or requests that failed.</param>
/// <param name="Mismatches">Successful answers that differ from single-threaded scoring.</param>
/// <param name="WorkingSetStartBytes">The service's working set after the warm-up.</param>
/// <param name="WorkingSetEndBytes">The service's working set at the end.</param>
public sealed record SoakResult(int Clients, double Seconds, int Requests, double P50Milliseconds, double P99Milliseconds, int Errors, int Mismatches,
    long WorkingSetStartBytes, long WorkingSetEndBytes)
{
    /// <summary>Requests per second.</summary>
    public double RequestsPerSecond => Requests / Seconds;
}

/// <summary>
/// A bounded load on a <see cref="LoopbackService"/>: <c>clients</c> concurrent HttpClients post the requests in turn
/// until the time or the request count runs out, and every answer is compared with the expected single-threaded one.
/// </summary>
public static class ServiceSoak
{
    /// <summary>Runs the soak; <paramref name="expected"/>[i] is the single-threaded answer to the body <paramref name="requests"/>[i] makes.</summary>
    public static async Task<SoakResult> RunAsync(LoopbackService service, IReadOnlyList<Func<HttpContent>> requests, IReadOnlyList<(string Label, IReadOnlyDictionary<string, float> Scores)> expected,
        int clients, TimeSpan duration, int maxRequests = int.MaxValue)
    {
        if (clients < 1) throw new ArgumentOutOfRangeException(nameof(clients), clients, "At least one client.");
        using (var warmUp = new HttpClient { BaseAddress = service.Address })
            foreach (var request in requests.Take(20)) (await warmUp.PostAsync("/predict", request())).EnsureSuccessStatusCode();
        long startSet = service.WorkingSetBytes;
        var latencies = new List<double>[clients];
        int errors = 0, mismatches = 0, issued = 0;
        var stop = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            latencies[c] = new List<double>();
            using var client = new HttpClient { BaseAddress = service.Address };
            for (int n; stop.Elapsed < duration && (n = Interlocked.Increment(ref issued)) <= maxRequests;)
            {
                int k = n % requests.Count;
                long start = Stopwatch.GetTimestamp();
                try
                {
                    var response = await client.PostAsync("/predict", requests[k]());
                    if (!response.IsSuccessStatusCode) { Interlocked.Increment(ref errors); continue; }
                    var answer = await response.Content.ReadFromJsonAsync<PredictResponse>();
                    if (answer!.Label != expected[k].Label || !answer.Scores.SequenceEqual(expected[k].Scores)) Interlocked.Increment(ref mismatches);
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                }
                finally
                {
                    latencies[c].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                }
            }
        }));
        double seconds = stop.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).OrderBy(l => l).ToArray();
        if (all.Length == 0) throw new InvalidOperationException("The soak sent no request.");
        return new SoakResult(clients, seconds, all.Length, all[all.Length / 2], all[Math.Min(all.Length - 1, (int)(all.Length * 0.99))], errors, mismatches,
            startSet, service.WorkingSetBytes);
    }
}
