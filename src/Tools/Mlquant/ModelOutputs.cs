using Microsoft.ML.Data;

namespace Microsoft.ML.Quantization.Tools.Mlquant;

/// <summary>
/// What every command writes into --out once the model is trained: model.zip (saved atomically), the validation metrics
/// as metrics.json and confusion-matrix.png, report.md and the consumption code.
/// </summary>
internal static class ModelOutputs
{
    /// <param name="ml">The context that trained the model.</param>
    /// <param name="model">The whole pipeline.</param>
    /// <param name="schema">Its input schema.</param>
    /// <param name="validation">The validation rows.</param>
    /// <param name="skipped">Inputs skipped before training, for the metrics and the report.</param>
    /// <param name="title">The report's title.</param>
    /// <param name="data">The report's lines about the data.</param>
    /// <param name="consumptionCode">The generated C#.</param>
    /// <param name="outDir">The output folder.</param>
    public static void Write(MLContext ml, ITransformer model, DataViewSchema schema, IDataView validation, IReadOnlyList<string> skipped,
        string title, IEnumerable<string> data, string consumptionCode, string outDir)
    {
        ml.Model.SaveAtomically(model, schema, Path.Combine(outDir, "model.zip"));
        var classifier = ((TransformerChain<ITransformer>)model).OfType<GraphClassifierTransformerBase>().Single();
        var metrics = ValidationMetrics.Evaluate(ml, model.Transform(validation), classifier.ClassNames, skipped);
        metrics.WriteFiles(outDir);
        File.WriteAllText(Path.Combine(outDir, ConsumptionCode.ClassName + ".cs"), consumptionCode);
        File.WriteAllText(Path.Combine(outDir, "report.md"), string.Join("\n", new[] { $"# {title}", "" }.Concat(data).Concat(new[]
        {
            "", metrics.ToMarkdown(), "", "![confusion matrix](confusion-matrix.png)", "",
            "## Quantization", "", "```", classifier.QuantizationReport?.ToString() ?? "", "```", "",
            $"Use it: `{ConsumptionCode.ClassName}.cs`; serve it: `mlquant serve model.zip`.", "",
        })));
        Console.WriteLine($"\nValidation accuracy {metrics.Accuracy:P2}; model.zip, metrics.json, confusion-matrix.png, report.md and {ConsumptionCode.ClassName}.cs under {Path.GetFullPath(outDir)}");
    }
}
