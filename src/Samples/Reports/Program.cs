using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Samples.Reports;

// Draws the PNGs and the Markdown reports (the samples start it after they save model.zip).
//   dotnet run --project src/Samples/Reports -c Release -- model REPORT.json [OUTDIR]   charts and report.md of a sample run (OUTDIR: beside REPORT.json)
//   dotnet run --project src/Samples/Reports -c Release -- benchmarks [DIR]             charts of the benchmark JSON in DIR (default docs/benchmarks)
try
{
    switch (args.FirstOrDefault())
    {
        case "model" when args.Length >= 2:
            string outDir = args.Length >= 3 ? args[2] : Path.GetDirectoryName(Path.GetFullPath(args[1]))!;
            Console.WriteLine($"Report written to {ModelReport.Write(SampleReport.Read(args[1]), outDir)}");
            return 0;
        case "benchmarks":
            Console.WriteLine($"Figures written to {BenchmarkFigures.Write(args.Length >= 2 ? args[1] : Path.Combine("docs", "benchmarks"))}");
            return 0;
        default:
            Console.Error.WriteLine("usage: Reports model REPORT.json [OUTDIR] | Reports benchmarks [DIR]");
            return 2;
    }
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidDataException)
{
    Console.Error.WriteLine($"Reports: {e.Message}");
    return 1;
}
