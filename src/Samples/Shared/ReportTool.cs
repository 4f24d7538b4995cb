using System.Diagnostics;

namespace Microsoft.ML.Quantization.Samples;

/// <summary>
/// Starts the Reports tool, copied beside the sample under reports/ by Samples.targets, to draw the PNGs and
/// report.md from report.json (a child process: ScottPlot's SkiaSharp 3 cannot share a process with ImageAnalytics).
/// </summary>
internal static class ReportTool
{
    /// <summary>Draws the report of <paramref name="reportJson"/> beside it; returns the path of report.md.</summary>
    public static string Draw(string reportJson)
    {
        string tool = Path.Combine(AppContext.BaseDirectory, "reports", "Reports.dll");
        if (!File.Exists(tool)) throw new FileNotFoundException($"The Reports tool is missing at {tool}; rebuild the sample.", tool);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (string argument in new[] { tool, "model", reportJson }) start.ArgumentList.Add(argument);
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start dotnet.");
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(2))) process.Kill(entireProcessTree: true);
        if (process.ExitCode != 0) throw new InvalidOperationException($"The Reports tool failed ({process.ExitCode}): {error.Result}{output}");
        return Path.Combine(Path.GetDirectoryName(reportJson)!, "report.md");
    }
}
