using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization;
using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Samples.ImageClassification;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Transforms.Image;

// The README's main job: Fashion-MNIST images read from PNG files through ImageAnalytics, a VggSmall
// trained in FP32, then quantized automatically to an average of 2 bits (QSS, QPL, fine-tuning), saved as
// model.zip, reloaded and used to predict; report.md and its PNGs are written beside model.zip.
//   dotnet run --project src/Samples/ImageClassification -c Release [-- --full] [--data DIR] [--epochs N] [--out DIR] [--json PATH] [--checkpoints DIR] [--limit N] [--verbose]
return SampleMain.Run(args, Train);

static int Train(string[] args)
{
    var arguments = SampleArguments.Parse(args);
    var ml = new MLContext(seed: 1);
    var run = new SampleRun(ml);
    var progress = run.Progress;

    Console.WriteLine($"Data: {arguments.DataDirectory}");
    string imageFolder = PngDataset.FolderFor(arguments.DataDirectory);
    var trainRows = PngDataset.Write(ml, arguments.DataDirectory, "train", imageFolder);
    var train = ml.Data.LoadFromEnumerable(arguments.TrainLimit is int limit ? trainRows.Take(limit) : trainRows);
    var test = ml.Data.LoadFromEnumerable(PngDataset.Write(ml, arguments.DataDirectory, "t10k", imageFolder));
    Console.WriteLine($"Wrote the images as PNG files under {imageFolder}");
    Directory.CreateDirectory(arguments.OutputDirectory);

    Console.WriteLine("\n== FP32 training");
    var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
        .Append(ml.Transforms.LoadImages("Image", imageFolder, nameof(PngRow.ImagePath)))
        .Append(ml.Transforms.ResizeImages("Image", 28, 28))
        .Append(ml.Transforms.ExtractPixels("Pixels", "Image", ImagePixelExtractingEstimator.ColorBits.Red))
        .Append(ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
        {
            FeatureColumnName = "Pixels", Epochs = arguments.Epochs, BatchSize = 128,
            Optimizer = OptimizerKind.Sgd, LearningRate = 0.05, WeightDecay = 5e-4, Progress = progress,
            CheckpointDirectory = arguments.CheckpointDirectory is string fp32Checkpoints ? Path.Combine(fp32Checkpoints, "fp32") : null,
        }))
        .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"));
    var fp32 = progress.Run(() => pipeline.Fit(train));

    Console.WriteLine("\n== Automatic quantization to 2 bits (QSS, QPL, fine-tuning)");
    var quantized = progress.Run(() => ml.Quantization().QuantizeAutomatically(fp32, train, targetBits: 2, new AutoQuantizationOptions
    {
        Training = new TrainingOptions
        {
            BatchSize = 128, Optimizer = OptimizerKind.Sgd, LearningRate = 0.01, WeightDecay = 5e-4, Progress = progress,
            CheckpointDirectory = arguments.CheckpointDirectory is string autoCheckpoints ? Path.Combine(autoCheckpoints, "auto") : null,
        },
    }));
    var report = ((TransformerChain<ITransformer>)quantized).OfType<ImageClassifierTransformer>().Single().QuantizationReport!;

    var testRows = ml.Data.CreateEnumerable<PngRow>(test, reuseRowObject: false).ToList();
    var results = SampleRun.Measure<PngRow, PngPrediction>(ml, train, test, testRows, fp32, quantized, report, arguments.OutputDirectory, "PNG");

    // Reload the quantized model in a fresh context, as a scoring process would, and predict a few images.
    var scoring = new MLContext();
    scoring.ComponentCatalog.RegisterQuantization();
    var loaded = scoring.Model.Load(Path.Combine(arguments.OutputDirectory, "model.zip"), out _);
    var engine = scoring.Model.CreatePredictionEngine<PngRow, PngPrediction>(loaded);
    Console.WriteLine("\nPredictions of the reloaded quantized model:");
    foreach (var row in testRows.Take(5))
    {
        var prediction = engine.Predict(row);
        Console.WriteLine($"  {Path.GetFileName(row.ImagePath),-16} label {row.Label,-12} predicted {prediction.PredictedClass,-12} p={prediction.Score.Max():F2}");
    }
    string testImages = PngDataset.CopyByClass(testRows, imageFolder, Path.Combine(arguments.OutputDirectory, "test-images"));
    Console.WriteLine($"\nThe test images, by class, for the scoring sample and the service: {testImages}");
    run.Finish("VggSmall on Fashion-MNIST, quantized automatically to 2 bits", "ImageClassification", args, results, report, arguments.OutputDirectory, arguments.JsonPath);
    return 0;
}
