using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Transforms.Image;

namespace Microsoft.ML.Quantization.Tools.Mlquant;

/// <summary>The options of <c>mlquant image</c>.</summary>
/// <param name="Dataset">One subfolder per class.</param>
/// <param name="Size">Images are resized to Size×Size.</param>
/// <param name="Channels">1 (grey) or 3 (RGB); null detects them.</param>
/// <param name="Model">VggSmall, ResNet20 or LeNet5.</param>
/// <param name="TargetBits">Average weight and activation bits.</param>
/// <param name="Epochs">FP32 epochs.</param>
/// <param name="ValidationFraction">Share of each class held out.</param>
/// <param name="Seed">Seed of the split and the training.</param>
/// <param name="Out">Where everything is written; its checkpoints folder lets the same command resume.</param>
internal sealed record ImageCommandOptions(string Dataset, int Size, int? Channels, string Model, int TargetBits, int Epochs, double ValidationFraction, int Seed, string Out);

/// <summary>
/// <c>mlquant image</c>: reads the folder, trains the network in FP32, quantizes it automatically to the target bits,
/// and writes model.zip (the whole pipeline from an image path to a class), metrics.json, the confusion matrix PNG,
/// report.md and the consumption code. Every stage checkpoints under --out, so the same command resumes after a kill.
/// </summary>
internal static class ImageCommand
{
    /// <summary>The networks --model names, each built for (channels, size, classes).</summary>
    public static readonly IReadOnlyDictionary<string, Func<int, int, int, NetworkGraph>> Models = new Dictionary<string, Func<int, int, int, NetworkGraph>>
    {
        ["VggSmall"] = (channels, size, classes) => NetworkGraphs.VggSmall(channels, size, classes),
        ["ResNet20"] = NetworkGraphs.ResNet20,
        ["LeNet5"] = NetworkGraphs.LeNet5,
    };

    public static int Run(ImageCommandOptions o)
    {
        if (o.Size is < 16 or > 224) throw new UsageException($"--size takes 16 to 224, not {o.Size}.");
        if (o.Channels is not (null or 1 or 3)) throw new UsageException($"--channels takes 1 or 3, not {o.Channels}.");
        if (!Models.TryGetValue(o.Model, out var network)) throw new UsageException($"--model takes {string.Join(", ", Models.Keys)}, not '{o.Model}'.");
        var ml = new MLContext(seed: o.Seed);
        var run = new SampleRun(ml);
        Console.WriteLine($"Reading {Path.GetFullPath(o.Dataset)}");
        var folder = ImageFolder.Scan(o.Dataset);
        int channels = o.Channels ?? folder.Channels;
        var (trainRows, validationRows) = ClassSplit.Split(folder.Images, r => r.Label, o.ValidationFraction, o.Seed);
        Console.WriteLine($"{folder.Images.Count} images in {folder.Classes.Count} classes ({string.Join(", ", folder.Classes)}), {(channels == 3 ? "colour" : "grey")}; "
            + $"{trainRows.Count} to train, {validationRows.Count} to validate; {folder.Unreadable.Count} unreadable, skipped{(folder.Unreadable.Count > 0 ? ": " + string.Join(", ", folder.Unreadable) : "")}");
        var graph = network(channels, o.Size, folder.Classes.Count);
        Directory.CreateDirectory(o.Out);
        string checkpoints = Path.Combine(o.Out, "checkpoints");
        Interruption.ExplainResumeOnCtrlC(o.Out);
        var train = ml.Data.LoadFromEnumerable(trainRows);
        var images = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", folder.Root, nameof(ImageRow.ImagePath)))
            .Append(ml.Transforms.ResizeImages("Image", o.Size, o.Size));
        // One channel: the grey level (what --channels 1 asks of colour images; grey images have it in every channel).
        var pixels = channels == 1
            ? images.Append(ml.Transforms.ConvertToGrayscale("Image")).Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Red))
            : images.Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Rgb));
        var pipeline = pixels
            .Append(ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
            {
                FeatureColumnName = "Pixels", ImageShape = new[] { channels, o.Size, o.Size }, Graph = graph, Epochs = o.Epochs, BatchSize = 32,
                Seed = o.Seed, Progress = run.Progress, CheckpointDirectory = Path.Combine(checkpoints, "fp32"),
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"));
        Console.WriteLine("\n== FP32 training");
        var fp32 = run.Progress.Run(() => pipeline.Fit(train));
        Console.WriteLine($"\n== Automatic quantization to {o.TargetBits} bits");
        var quantized = run.Progress.Run(() => ml.Quantization().QuantizeAutomatically(fp32, train, o.TargetBits, StageEpochs.AtLeastMinimumSteps(new AutoQuantizationOptions
        {
            Training = new TrainingOptions { BatchSize = 32, Seed = o.Seed, Progress = run.Progress, CheckpointDirectory = Path.Combine(checkpoints, "auto") },
        }, trainRows.Count)));
        ModelOutputs.Write(ml, quantized, train.Schema, ml.Data.LoadFromEnumerable(validationRows), folder.Unreadable,
            $"{o.Model} on {Path.GetFileName(folder.Root)}, quantized automatically to {o.TargetBits} bits",
            new[]
            {
                $"Data: {folder.Images.Count} images, {folder.Classes.Count} classes, {(channels == 3 ? "RGB" : "grey")} at {o.Size}×{o.Size}; {trainRows.Count} trained on, {validationRows.Count} validated on.",
                folder.Unreadable.Count == 0 ? "Every image was readable." : $"Unreadable, skipped ({folder.Unreadable.Count}): {string.Join(", ", folder.Unreadable)}.",
            },
            ConsumptionCode.ForImages(), o.Out);
        return 0;
    }
}
