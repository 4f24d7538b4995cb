using System.Text.Json;
using Microsoft.ML.Data;
using ScottPlot;

namespace Microsoft.ML.Quantization.Tools.Mlquant;

/// <summary>Per-class precision and recall.</summary>
/// <param name="Class">The class.</param>
/// <param name="Precision">Of the images predicted as it, the share that are.</param>
/// <param name="Recall">Of its images, the share predicted as it.</param>
/// <param name="Count">Its examples in the validation set.</param>
public sealed record ClassMetrics(string Class, double Precision, double Recall, int Count);

/// <summary>
/// What the trained model scores on the validation images, as metrics.json writes it: accuracy, per-class precision and
/// recall, and the confusion matrix (rows: the actual class, columns: the predicted one, in <see cref="Classes"/> order).
/// </summary>
public sealed record ValidationMetrics(double Accuracy, double MacroAccuracy, IReadOnlyList<string> Classes, IReadOnlyList<ClassMetrics> PerClass,
    IReadOnlyList<IReadOnlyList<int>> ConfusionMatrix, int ValidationExamples, IReadOnlyList<string> Skipped)
{
    /// <summary>ML.NET's multiclass evaluation of <paramref name="predictions"/>, whose keys follow <paramref name="classes"/>.</summary>
    public static ValidationMetrics Evaluate(MLContext ml, IDataView predictions, IReadOnlyList<string> classes, IReadOnlyList<string> skipped)
    {
        var metrics = ml.MulticlassClassification.Evaluate(predictions, "Label");
        var matrix = metrics.ConfusionMatrix;
        var counts = matrix.Counts.Select(row => (IReadOnlyList<int>)row.Select(c => (int)c).ToList()).ToList();
        var perClass = classes.Select((name, i) => new ClassMetrics(name, matrix.PerClassPrecision[i], matrix.PerClassRecall[i], counts[i].Sum())).ToList();
        return new ValidationMetrics(metrics.MicroAccuracy, metrics.MacroAccuracy, classes, perClass, counts, counts.Sum(r => r.Sum()), skipped);
    }

    /// <summary>Writes metrics.json and confusion-matrix.png into <paramref name="outDir"/>.</summary>
    public void WriteFiles(string outDir)
    {
        File.WriteAllText(Path.Combine(outDir, "metrics.json"), JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true }));
        DrawConfusionMatrix(Path.Combine(outDir, "confusion-matrix.png"));
    }

    /// <summary>Draws the confusion matrix as a PNG: one cell per (actual, predicted) pair with its count.</summary>
    private void DrawConfusionMatrix(string path)
    {
        var plot = new Plot();
        int n = Classes.Count;
        var cells = new double[n, n];
        for (int actual = 0; actual < n; actual++)
            for (int predicted = 0; predicted < n; predicted++) cells[actual, predicted] = ConfusionMatrix[actual][predicted];
        // Row 0 of a heatmap is drawn at the top: the first actual class first, as in the table; the counts on top of it.
        plot.Add.Heatmap(cells).Colormap = new ScottPlot.Colormaps.Viridis();
        for (int actual = 0; actual < n; actual++)
            for (int predicted = 0; predicted < n; predicted++)
            {
                var count = plot.Add.Text(ConfusionMatrix[actual][predicted].ToString(), predicted, n - 1 - actual);
                count.Alignment = Alignment.MiddleCenter;
                count.LabelBackgroundColor = Colors.White;
            }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(Classes.Select((c, i) => new Tick(i, c, true)).ToArray());
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(Classes.Select((c, i) => new Tick(n - 1 - i, c, true)).ToArray());
        plot.XLabel("predicted");
        plot.YLabel("actual");
        plot.Title($"{ValidationExamples} examples, accuracy {Accuracy:P1}");
        plot.SavePng(path, Math.Max(480, 200 + 60 * n), Math.Max(400, 160 + 60 * n));
    }

    /// <summary>The metrics as Markdown tables.</summary>
    public string ToMarkdown()
    {
        var lines = new List<string>
        {
            $"Accuracy {Accuracy:P2} (macro {MacroAccuracy:P2}) on {ValidationExamples} examples.", "",
            "| class | precision | recall | examples |", "|---|---:|---:|---:|",
        };
        lines.AddRange(PerClass.Select(c => $"| {c.Class} | {c.Precision:P1} | {c.Recall:P1} | {c.Count} |"));
        lines.AddRange(new[] { "", "Confusion matrix (rows: actual, columns: predicted):", "", "| | " + string.Join(" | ", Classes) + " |", "|---|" + string.Concat(Classes.Select(_ => "---:|")) });
        lines.AddRange(Classes.Select((c, i) => $"| {c} | " + string.Join(" | ", ConfusionMatrix[i]) + " |"));
        return string.Join("\n", lines);
    }
}
