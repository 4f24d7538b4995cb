using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Microsoft.ML.Quantization.Samples.ScoringService.Load;

/// <summary>
/// The scoring service started as a child process through real Kestrel on a free 127.0.0.1 port, ready once
/// <c>/health</c> answers; disposing it kills the process. For the load benchmark and the tests.
/// </summary>
public sealed class LoopbackService : IDisposable
{
    private readonly Process process;

    private LoopbackService(Process process, Uri address)
    {
        this.process = process;
        Address = address;
    }

    /// <summary>The service's base address.</summary>
    public Uri Address { get; }

    /// <summary>The service process's working set now, in bytes.</summary>
    public long WorkingSetBytes
    {
        get
        {
            process.Refresh();
            return process.WorkingSet64;
        }
    }

    /// <summary>Starts <c>ScoringService.dll</c> (beside the calling assembly) on <paramref name="model"/> and waits up to a minute for it to be healthy.</summary>
    public static async Task<LoopbackService> StartAsync(string model)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        string dll = Path.Combine(AppContext.BaseDirectory, "ScoringService.dll");
        // Output is not redirected: an unread pipe would fill and stall the service.
        var process = Process.Start(new ProcessStartInfo("dotnet", $"\"{dll}\" --urls http://127.0.0.1:{port} --Model \"{model}\"") { UseShellExecute = false })
            ?? throw new InvalidOperationException("Could not start the scoring service.");
        var service = new LoopbackService(process, new Uri($"http://127.0.0.1:{port}"));
        try
        {
            using var http = new HttpClient { BaseAddress = service.Address };
            for (var deadline = DateTime.UtcNow.AddSeconds(60); ; await Task.Delay(200))
            {
                try
                {
                    if ((await http.GetAsync("/health")).IsSuccessStatusCode) return service;
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline && !process.HasExited) { }
            }
        }
        catch
        {
            service.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (!process.HasExited) process.Kill(entireProcessTree: true);
        process.Dispose();
    }
}
