using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Training;

namespace Microsoft.ML.Quantization.Tools.Mlquant;

/// <summary>One labelled text of the data set.</summary>
public sealed class TextRow
{
    /// <summary>The text.</summary>
    public string Text { get; set; } = "";

    /// <summary>The class.</summary>
    public string Label { get; set; } = "";
}

/// <summary>The options of <c>mlquant text</c>.</summary>
/// <param name="Dataset">A TSV or CSV file with a header row.</param>
/// <param name="LabelColumn">The header name of the class column.</param>
/// <param name="TextColumn">The header name of the text column.</param>
/// <param name="TargetBits">Average weight and activation bits.</param>
/// <param name="Epochs">FP32 epochs.</param>
/// <param name="SequenceLength">Tokens read per text.</param>
/// <param name="ValidationFraction">Share of each class held out.</param>
/// <param name="Seed">Seed of the split and the training.</param>
/// <param name="Out">Where everything is written; its checkpoints folder lets the same command resume.</param>
internal sealed record TextCommandOptions(string Dataset, string LabelColumn, string TextColumn, int TargetBits, int Epochs, int SequenceLength,
    double ValidationFraction, int Seed, string Out);

/// <summary>
/// <c>mlquant text</c>: reads a TSV or CSV file (the separator from its extension, quoted fields allowed), trains
/// TextLstm, quantizes it automatically, and writes what <c>mlquant image</c> writes, its pipeline starting at the text.
/// </summary>
internal static class TextCommand
{
    /// <summary>
    /// The labelled texts of a TSV or CSV file (the separator from its extension, a header row, quoted fields allowed), and
    /// the rows skipped for want of a label.
    /// </summary>
    /// <exception cref="UsageException">The file or a named column is missing.</exception>
    public static (List<TextRow> Rows, List<string> Skipped) Load(MLContext ml, string path, string labelColumn, string textColumn)
    {
        if (!File.Exists(path)) throw new UsageException($"No data set file at '{Path.GetFullPath(path)}': pass --dataset FILE (TSV or CSV with a header row).");
        char separator = Path.GetExtension(path).Equals(".csv", StringComparison.OrdinalIgnoreCase) ? ',' : '\t';
        var header = (File.ReadLines(path).FirstOrDefault() ?? "").Split(separator).Select(h => h.Trim().Trim('"')).ToList();
        int Column(string name, string option) => header.FindIndex(h => h.Equals(name, StringComparison.OrdinalIgnoreCase)) is int i and >= 0 ? i
            : throw new UsageException($"'{path}' has no column '{name}' ({option}); its header has: {string.Join(", ", header)}.");
        var loader = ml.Data.CreateTextLoader(new TextLoader.Options
        {
            HasHeader = true, Separators = new[] { separator }, AllowQuoting = true,
            Columns = new[] { new TextLoader.Column(nameof(TextRow.Label), DataKind.String, Column(labelColumn, "--label-column")), new TextLoader.Column(nameof(TextRow.Text), DataKind.String, Column(textColumn, "--text-column")) },
        });
        var all = ml.Data.CreateEnumerable<TextRow>(loader.Load(path), reuseRowObject: false).ToList();
        var skipped = Enumerable.Range(0, all.Count).Where(i => string.IsNullOrWhiteSpace(all[i].Label)).Select(i => $"row {i + 2}: no label").ToList();
        return (all.Where(r => !string.IsNullOrWhiteSpace(r.Label)).ToList(), skipped);
    }

    public static int Run(TextCommandOptions o)
    {
        if (o.SequenceLength is < 4 or > 4096) throw new UsageException($"--sequence-length takes 4 to 4096, not {o.SequenceLength}.");
        var ml = new MLContext(seed: o.Seed);
        var run = new SampleRun(ml);
        var (rows, skipped) = Load(ml, o.Dataset, o.LabelColumn, o.TextColumn);
        var classes = rows.Select(r => r.Label).Distinct().ToList();
        if (classes.Count < 2) throw new UsageException($"'{o.Dataset}' has {classes.Count} class(es) in '{o.LabelColumn}'; a classifier needs at least two.");
        var (trainRows, validationRows) = ClassSplit.Split(rows, r => r.Label, o.ValidationFraction, o.Seed);
        Console.WriteLine($"{rows.Count} texts in {classes.Count} classes ({string.Join(", ", classes)}); {trainRows.Count} to train, {validationRows.Count} to validate; {skipped.Count} without a label, skipped");

        Directory.CreateDirectory(o.Out);
        string checkpoints = Path.Combine(o.Out, "checkpoints");
        Interruption.ExplainResumeOnCtrlC(o.Out);
        var train = ml.Data.LoadFromEnumerable(trainRows);
        Console.WriteLine("\n== FP32 training");
        var fp32 = run.Progress.Run(() => ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.TextLstm(new TextLstmOptions
            {
                Epochs = o.Epochs, SequenceLength = o.SequenceLength, LearningRate = 2e-3, Seed = o.Seed, Progress = run.Progress, CheckpointDirectory = Path.Combine(checkpoints, "fp32"),
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"))
            .Fit(train));
        Console.WriteLine($"\n== Automatic quantization to {o.TargetBits} bits");
        var quantized = run.Progress.Run(() => ml.Quantization().QuantizeAutomatically(fp32, train, o.TargetBits, StageEpochs.AtLeastMinimumSteps(new AutoQuantizationOptions
        {
            Qag = new QagOptions { KeepFirstAndLastAt8Bits = false }, // the embedding is the first layer and holds most weights
            Training = new TrainingOptions { LearningRate = 4e-4, Seed = o.Seed, Progress = run.Progress, CheckpointDirectory = Path.Combine(checkpoints, "auto") },
        }, trainRows.Count)));
        ModelOutputs.Write(ml, quantized, train.Schema, ml.Data.LoadFromEnumerable(validationRows), skipped,
            $"TextLstm on {Path.GetFileName(o.Dataset)}, quantized automatically to {o.TargetBits} bits",
            new[] { $"Data: {rows.Count} texts, {classes.Count} classes; {trainRows.Count} trained on, {validationRows.Count} validated on; {skipped.Count} row(s) without a label skipped." },
            ConsumptionCode.ForText(), o.Out);
        return 0;
    }
}
