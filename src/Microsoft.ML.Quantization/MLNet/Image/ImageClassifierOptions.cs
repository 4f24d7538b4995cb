using Microsoft.ML.Quantization.Activations;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Training;
namespace Microsoft.ML.Quantization;

/// <summary>Options of the <see cref="ImageClassifierEstimator"/> (see <see cref="ImageClassifierCatalog.ImageClassifier(MulticlassClassificationCatalog.MulticlassClassificationTrainers, ImageClassifierOptions)"/>).</summary>
public sealed class ImageClassifierOptions : TrainingOptions
{
    /// <summary>The float vector column of pixels, row-major [C,H,W] (e.g. from <c>ExtractPixels</c>). Default "Features".</summary>
    public string FeatureColumnName { get; set; } = "Features";

    /// <summary>The key column of labels. Default "Label".</summary>
    public string LabelColumnName { get; set; } = "Label";

    /// <summary>Shape [C,H,W] of one image. Default [1,28,28].</summary>
    public int[] ImageShape { get; set; } = { 1, 28, 28 };

    /// <summary>Factor applied to every pixel before the network (1/255 maps bytes to [0,1]). Default 1/255.</summary>
    public float PixelScale { get; set; } = 1f / 255;

    /// <summary>The network; null uses <see cref="NetworkGraphs.VggSmall"/> for <see cref="ImageShape"/> and the label's classes.</summary>
    public NetworkGraph? Graph { get; set; }

    /// <summary>Fixed-scheme quantization-aware training through QAG; null trains in FP32. Default null.</summary>
    public QagOptions? Quantization { get; set; }

    /// <summary>
    /// Options of the graph's BCPReLU nodes that carry none of their own (<see cref="GraphNode.BCPReLU"/>); they are
    /// copied into those nodes, so the trained, saved and re-quantized model keeps them.
    /// </summary>
    public BCPReLUOptions Activations { get; set; } = new();

    /// <inheritdoc />
    public override void Validate()
    {
        base.Validate();
        if (string.IsNullOrWhiteSpace(FeatureColumnName)) throw new ArgumentOutOfRangeException(nameof(FeatureColumnName), "Name the feature column.");
        if (string.IsNullOrWhiteSpace(LabelColumnName)) throw new ArgumentOutOfRangeException(nameof(LabelColumnName), "Name the label column.");
        if (ImageShape is null || ImageShape.Length != 3 || ImageShape.Any(d => d < 1))
            throw new ArgumentOutOfRangeException(nameof(ImageShape), "The image shape is [channels, height, width], all positive.");
        if (!(PixelScale > 0) || float.IsInfinity(PixelScale)) throw new ArgumentOutOfRangeException(nameof(PixelScale), PixelScale, "The pixel scale must be positive and finite.");
        Activations.Validate();
    }
}
