using Microsoft.ML.Quantization.Samples.Reports;

// Draws the figures of the benchmark outputs (the samples draw their own report in-process, see Shared/ModelReport.cs):
//   dotnet run --project src/Samples/Reports -c Release -- benchmarks [DIR]   charts of the benchmark JSON in DIR (default docs/benchmarks)
try
{
    switch (args.FirstOrDefault())
    {
        case "benchmarks":
            Console.WriteLine($"Figures written to {BenchmarkFigures.Write(args.Length >= 2 ? args[1] : Path.Combine("docs", "benchmarks"))}");
            return 0;
        default:
            Console.Error.WriteLine("usage: Reports benchmarks [DIR]");
            return 2;
    }
}
catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or InvalidDataException)
{
    Console.Error.WriteLine($"Reports: {e.Message}");
    return 1;
}
