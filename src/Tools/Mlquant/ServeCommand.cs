using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Samples.ScoringService;

namespace Microsoft.ML.Quantization.Tools.Mlquant;

/// <summary>The options of <c>mlquant serve</c>.</summary>
/// <param name="Model">A model.zip the tool (or the library) wrote.</param>
/// <param name="Urls">Where Kestrel listens (ASP.NET's <c>--urls</c>).</param>
/// <param name="MaxRequestBytes">The largest request body accepted.</param>
internal sealed record ServeCommandOptions(string Model, string Urls, long MaxRequestBytes);

/// <summary><c>mlquant serve</c>: the scoring service (<see cref="ScoringApp"/>) on a saved model, until Ctrl+C.</summary>
internal static class ServeCommand
{
    public static int Run(ServeCommandOptions o)
    {
        if (!File.Exists(o.Model)) throw new UsageException($"No model at '{Path.GetFullPath(o.Model)}'.");
        var app = ScoringApp.Create(new[] { "--Model", Path.GetFullPath(o.Model), "--urls", o.Urls, "--MaxRequestBytes", o.MaxRequestBytes.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        app.Lifetime.ApplicationStarted.Register(() =>
            Console.WriteLine($"Serving {o.Model} on {o.Urls}: POST /predict, GET /model, GET /health (Ctrl+C stops)."));
        app.Run();
        return 0;
    }
}
