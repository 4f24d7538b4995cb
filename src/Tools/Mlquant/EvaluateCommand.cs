using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Samples.ScoringService;

namespace Microsoft.ML.Quantization.Tools.Mlquant;

/// <summary>The options of <c>mlquant evaluate</c>.</summary>
/// <param name="Model">A model.zip the tool (or the library) wrote.</param>
/// <param name="Dataset">For an image model, a folder with one subfolder per class; for a text model, a TSV or CSV file.</param>
/// <param name="LabelColumn">A text file's class column.</param>
/// <param name="TextColumn">A text file's text column.</param>
/// <param name="Out">Where metrics.json and confusion-matrix.png go; null prints only.</param>
internal sealed record EvaluateCommandOptions(string Model, string Dataset, string LabelColumn, string TextColumn, string? Out);

/// <summary>
/// <c>mlquant evaluate</c>: scores a labelled data set with a saved model through its own pipeline and prints the metrics
/// <c>mlquant image</c> and <c>text</c> write (accuracy, per-class precision and recall, confusion matrix).
/// </summary>
internal static class EvaluateCommand
{
    public static int Run(EvaluateCommandOptions o)
    {
        if (!File.Exists(o.Model)) throw new UsageException($"No model at '{Path.GetFullPath(o.Model)}'.");
        // What the model takes, read as the service reads it.
        using var served = new ServedModel(o.Model);
        var ml = new MLContext();
        IDataView data;
        IReadOnlyList<string> skipped;
        switch (served.Kind)
        {
            case ServedInputKind.Image:
                var folder = ImageFolder.Scan(o.Dataset);
                // Absolute paths: the model's LoadImages looks in the folder it was trained on for relative ones.
                data = ml.Data.LoadFromEnumerable(folder.Images.Select(r => new ImageRow { ImagePath = Path.Combine(folder.Root, r.ImagePath), Label = r.Label }));
                skipped = folder.Unreadable;
                break;
            case ServedInputKind.Text:
                var (rows, noLabel) = TextCommand.Load(ml, o.Dataset, o.LabelColumn, o.TextColumn);
                data = ml.Data.LoadFromEnumerable(rows);
                skipped = noLabel;
                break;
            default:
                throw new UsageException($"'{o.Model}' starts at pixel vectors, not at image files or text: evaluate it in code.");
        }
        var metrics = ValidationMetrics.Evaluate(ml, served.Model.Transform(data), served.Classifier.ClassNames, skipped);
        Console.WriteLine(metrics.ToMarkdown());
        if (skipped.Count > 0) Console.WriteLine($"\nSkipped ({skipped.Count}): {string.Join(", ", skipped)}");
        if (o.Out is string outDir)
        {
            Directory.CreateDirectory(outDir);
            metrics.WriteFiles(outDir);
            Console.WriteLine($"\nmetrics.json and confusion-matrix.png under {Path.GetFullPath(outDir)}");
        }
        return 0;
    }
}
