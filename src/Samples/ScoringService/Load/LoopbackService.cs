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
    public static Task<LoopbackService> StartAsync(string model) =>
        StartAsync(url => new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "ScoringService.dll"), "--urls", url, "--Model", model]));

    /// <summary>
    /// Starts the service that <paramref name="command"/> describes for the base address of a free port (<c>mlquant serve
    /// --urls</c>, say) and waits up to a minute for it to be healthy.
    /// </summary>
    public static async Task<LoopbackService> StartAsync(Func<string, ProcessStartInfo> command)
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        string url = $"http://127.0.0.1:{port}";
        var start = command(url);
        // Output is not redirected: an unread pipe would fill and stall the service.
        start.UseShellExecute = false;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {start.FileName}.");
        var service = new LoopbackService(process, new Uri(url));
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
