using System.Diagnostics;
using Microsoft.ML.Quantization.Search;

namespace Microsoft.ML.Quantization.Samples;

/// <summary>
/// What the two training samples do alike: a wall clock, progress bars (or, on a console that is not interactive,
/// the stage log lines), the FP32 and quantized models evaluated, saved and timed, and the report.
/// </summary>
internal sealed class SampleRun
{
    private readonly Stopwatch watch = Stopwatch.StartNew();

    /// <summary>Starts the clock and shows <paramref name="ml"/>'s stage log lines where no progress bars are drawn.</summary>
    public SampleRun(MLContext ml)
    {
        ml.Log += (_, e) =>
        {
            if (!Progress.Interactive && StageLog.IsStageMessage(e.Message))
                Console.WriteLine($"  {watch.Elapsed:mm\\:ss} {e.Message[(e.Message.IndexOf(']') + 2)..]}");
        };
    }

    /// <summary>The progress bars, for <see cref="TrainingOptions.Progress"/>.</summary>
    public StageProgress Progress { get; } = new();

    /// <summary>The repository root (where MLQuant.sln is), or the current directory outside a clone.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MLQuant.sln"))) return dir.FullName;
        }
        return Directory.GetCurrentDirectory();
    }

    /// <summary>
    /// Evaluates the FP32 and the quantized model on <paramref name="test"/>, saves them as model-fp32.zip and
    /// model.zip in <paramref name="outDir"/>, times one prediction on up to 200 of <paramref name="rows"/>, and
    /// prints the per-layer report and the table.
    /// </summary>
    public static List<ConfigurationResult> Measure<TInput, TOutput>(MLContext ml, IDataView train, IDataView test, IReadOnlyList<TInput> rows,
        ITransformer fp32, ITransformer quantized, QuantizationReport report, string outDir, string exampleName)
        where TInput : class where TOutput : class, new()
    {
        Directory.CreateDirectory(outDir);
        var results = new List<ConfigurationResult>();
        foreach (var (name, model, file, bits) in new[]
        {
            ("FP32", fp32, "model-fp32.zip", (32.0, 32.0)),
            ($"auto W{report.AverageWeightBits:F2}/A{report.AverageActivationBits:F2}", quantized, "model.zip", (report.AverageWeightBits, report.AverageActivationBits)),
        })
        {
            var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
            string path = Path.Combine(outDir, file);
            ml.Model.SaveAtomically(model, train.Schema, path);
            var predictor = ml.Model.CreatePredictionEngine<TInput, TOutput>(model);
            double latency = LatencyProbe.MedianMilliseconds(Math.Min(200, rows.Count), i => predictor.Predict(rows[i]));
            results.Add(new ConfigurationResult(name, metrics.MicroAccuracy, bits.Item1, bits.Item2, new FileInfo(path).Length, latency));
        }
        Console.WriteLine($"\nPer layer:\n{report}");
        Console.WriteLine($"\n| configuration | test accuracy | model.zip bytes | latency, one {exampleName} (ms) |\n|---|---:|---:|---:|");
        foreach (var r in results) Console.WriteLine($"| {r.Configuration} | {r.TestAccuracy:P2} | {r.ModelBytes:N0} | {r.LatencyMilliseconds:F3} |");
        return results;
    }

    /// <summary>Writes report.json, report.md and the PNGs into <paramref name="outDir"/>, copies report.json to <paramref name="jsonPath"/> when given, and prints where.</summary>
    public void Finish(string title, string project, string[] args, IReadOnlyList<ConfigurationResult> results, QuantizationReport report, string outDir, string? jsonPath)
    {
        var sampleReport = new SampleReport(title, $"dotnet run --project src/Samples/{project} -c Release" + (args.Length > 0 ? " -- " + string.Join(" ", args) : ""),
            watch.Elapsed.TotalSeconds, results, report);
        string reportJson = sampleReport.Write(outDir);
        Console.WriteLine($"Report: {ModelReport.Write(sampleReport, outDir)}");
        if (jsonPath is not null)
        {
            File.Copy(reportJson, jsonPath, overwrite: true);
            Console.WriteLine($"Metrics written to {jsonPath}");
        }
        Console.WriteLine($"\nDone in {watch.Elapsed:mm\\:ss}; models and report under {outDir}");
    }
}
