using Microsoft.ML.Quantization.MLNet.Persistence;
namespace Microsoft.ML.Quantization;

/// <summary>Catalog entry points of the image classifier trainer.</summary>
public static class ImageClassifierCatalog
{
    /// <summary>
    /// Trains a network on image feature vectors (e.g. from ImageAnalytics <c>ExtractPixels</c>) and key labels.
    /// <example><code>
    ///   var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label")
    ///       .Append(mlContext.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
    ///       {
    ///           FeatureColumnName = "Pixels", Epochs = 10,
    ///           Quantization = new QagOptions(), // PotQ-3 weights, ClipQ-3 activations
    ///       }));
    /// </code></example>
    /// </summary>
    public static ImageClassifierEstimator ImageClassifier(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog, ImageClassifierOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(options);
        return new ImageClassifierEstimator(ModelLoader.RegisteredEnvironment(catalog), options);
    }

    /// <summary>Trains the default network (VggSmall) for <paramref name="epochs"/> epochs on 1×28×28 images.</summary>
    public static ImageClassifierEstimator ImageClassifier(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Features", int epochs = 10) =>
        catalog.ImageClassifier(new ImageClassifierOptions { LabelColumnName = labelColumnName, FeatureColumnName = featureColumnName, Epochs = epochs });
}
