using Microsoft.ML.Data;
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
        bool onnx = o.Model.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase);
        if (onnx && !File.Exists(o.Model)) throw new UsageException($"No ONNX file at '{Path.GetFullPath(o.Model)}'.");
        if (!onnx && !Models.ContainsKey(o.Model)) throw new UsageException($"--model takes {string.Join(", ", Models.Keys)} or an ONNX file, not '{o.Model}'.");
        var ml = new MLContext(seed: o.Seed);
        var run = new SampleRun(ml);
        Console.WriteLine($"Reading {Path.GetFullPath(o.Dataset)}");
        var folder = ImageFolder.Scan(o.Dataset);
        var imported = onnx ? Import(ml, o.Model, folder.Classes) : null;
        // An imported network fixes its input; the built-in ones are built for the options.
        var shape = imported?.Graph.InputShape.ToArray() ?? new[] { o.Channels ?? folder.Channels, o.Size, o.Size };
        if (imported is not null && o.Channels is int asked && asked != shape[0]) throw new UsageException($"--channels {asked}: the ONNX model reads {shape[0]}.");
        int channels = shape[0];
        var (trainRows, validationRows) = ClassSplit.Split(folder.Images, r => r.Label, o.ValidationFraction, o.Seed);
        Console.WriteLine($"{folder.Images.Count} images in {folder.Classes.Count} classes ({string.Join(", ", folder.Classes)}), {(channels == 3 ? "colour" : "grey")} at {shape[2]}×{shape[1]}; "
            + $"{trainRows.Count} to train, {validationRows.Count} to validate; {folder.Unreadable.Count} unreadable, skipped{(folder.Unreadable.Count > 0 ? ": " + string.Join(", ", folder.Unreadable) : "")}");
        Directory.CreateDirectory(o.Out);
        string checkpoints = Path.Combine(o.Out, "checkpoints");
        Interruption.ExplainResumeOnCtrlC(o.Out);
        var train = ml.Data.LoadFromEnumerable(trainRows);
        // Label keys in the folders' (ordinal) order: an imported network's outputs are taken in that order.
        var classes = ml.Data.LoadFromEnumerable(folder.Classes.Select(c => new ClassName { Label = c }));
        var images = ml.Transforms.Conversion.MapValueToKey("Label", keyData: classes)
            .Append(ml.Transforms.LoadImages("Image", folder.Root, nameof(ImageRow.ImagePath)))
            .Append(ml.Transforms.ResizeImages("Image", shape[2], shape[1]));
        // One channel: the grey level (what --channels 1 asks of colour images; grey images have it in every channel).
        var pixels = channels == 1
            ? images.Append(ml.Transforms.ConvertToGrayscale("Image")).Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Red))
            : images.Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Rgb));
        ITransformer fp32;
        if (imported is null)
        {
            var pipeline = pixels
                .Append(ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
                {
                    FeatureColumnName = "Pixels", ImageShape = shape, Graph = Models[o.Model](channels, o.Size, folder.Classes.Count), Epochs = o.Epochs, BatchSize = 32,
                    Seed = o.Seed, Progress = run.Progress, CheckpointDirectory = Path.Combine(checkpoints, "fp32"),
                }))
                .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"));
            Console.WriteLine("\n== FP32 training");
            fp32 = run.Progress.Run(() => pipeline.Fit(train));
        }
        else
        {
            // Trained already: its FP32 accuracy is the starting point, and quantization trains from it.
            var preprocessing = pixels.Fit(train).Append<ITransformer>(imported);
            var labels = ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel").Fit(preprocessing.Transform(train));
            fp32 = new TransformerChain<ITransformer>(preprocessing.Append<ITransformer>(labels).ToArray());
        }
        Console.WriteLine($"\n== Automatic quantization to {o.TargetBits} bits");
        var quantized = run.Progress.Run(() => ml.Quantization().QuantizeAutomatically(fp32, train, o.TargetBits, StageEpochs.AtLeastMinimumSteps(new AutoQuantizationOptions
        {
            Training = new TrainingOptions { BatchSize = 32, Seed = o.Seed, Progress = run.Progress, CheckpointDirectory = Path.Combine(checkpoints, "auto") },
        }, trainRows.Count)));
        ModelOutputs.Write(ml, quantized, train.Schema, ml.Data.LoadFromEnumerable(validationRows), folder.Unreadable,
            $"{o.Model} on {Path.GetFileName(folder.Root)}, quantized automatically to {o.TargetBits} bits",
            new[]
            {
                $"Data: {folder.Images.Count} images, {folder.Classes.Count} classes, {(channels == 3 ? "RGB" : "grey")} at {shape[2]}×{shape[1]}; {trainRows.Count} trained on, {validationRows.Count} validated on.",
                folder.Unreadable.Count == 0 ? "Every image was readable." : $"Unreadable, skipped ({folder.Unreadable.Count}): {string.Join(", ", folder.Unreadable)}.",
            },
            ConsumptionCode.ForImages(), o.Out);
        return 0;
    }

    /// <summary>
    /// The ONNX classifier at <paramref name="path"/>, its outputs named by <paramref name="classes"/> in order, reading
    /// pixels in [0, 1] (PyTorch's ToTensor; a normalisation inside the graph is folded in).
    /// </summary>
    private static GraphClassifierTransformerBase Import(MLContext ml, string path, IReadOnlyList<string> classes)
    {
        try
        {
            return ml.Quantization().ImportOnnx(path, new OnnxImportOptions { FeatureColumnName = "Pixels", ClassNames = classes.ToArray(), PixelScale = 1f / 255 });
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "options")
        {
            throw new UsageException($"The data set has {classes.Count} class folders ({string.Join(", ", classes)}); '{path}' outputs another number of classes.");
        }
    }

    /// <summary>A class name, the one column of the label keys' data.</summary>
    private sealed class ClassName
    {
        public string Label { get; set; } = "";
    }
}
