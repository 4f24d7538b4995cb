using Microsoft.ML.Quantization.MLNet.Persistence;
namespace Microsoft.ML.Quantization;

/// <summary>Catalog entry points of the text LSTM trainer.</summary>
public static class TextLstmCatalog
{
    /// <summary>
    /// Trains an Embedding → LSTM → Linear → Linear classifier on a text column and key labels.
    /// <example><code>
    ///   var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label")
    ///       .Append(mlContext.MulticlassClassification.Trainers.TextLstm(new TextLstmOptions { Epochs = 5 }));
    /// </code></example>
    /// </summary>
    public static TextLstmEstimator TextLstm(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, TextLstmOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new TextLstmEstimator(ModelLoader.RegisteredEnvironment(catalog), options);
    }

    /// <summary>Trains with default sizes for <paramref name="epochs"/> epochs.</summary>
    public static TextLstmEstimator TextLstm(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string textColumnName = "Text", int epochs = 5) =>
        catalog.TextLstm(new TextLstmOptions { LabelColumnName = labelColumnName, TextColumnName = textColumnName, Epochs = epochs });
}
