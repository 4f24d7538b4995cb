using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization;
using Microsoft.ML.Quantization.Samples;

// Scores a saved MLQuant image classifier without libtorch, on the input its saved pipeline takes:
//   dotnet run --project src/Samples/Scoring -c Release -- MODEL.zip IMAGE-FOLDER [--count N] [--verbose]
//   dotnet run --project src/Samples/Scoring -c Release -- MODEL.zip IMAGES-idx3-ubyte.gz LABELS-idx1-ubyte.gz [--count N] [--verbose]
// A pipeline that starts with LoadImages (the main job's) takes image files: a folder of PNG/JPEG/BMP files, where a
// subfolder's name is its images' label ('/' written '-'; the main job writes artifacts/image-classification/test-images so). A pipeline
// that takes a pixel vector takes IDX files. Relative paths are relative to the current directory.
return SampleMain.Run(args, Score);

static int Score(string[] args)
{
    const string Usage = "usage: Scoring MODEL.zip (IMAGE-FOLDER | IMAGES-idx3-ubyte.gz LABELS-idx1-ubyte.gz) [--count N] [--verbose]";
    int countAt = Array.IndexOf(args, "--count");
    int count = 100;
    if (countAt >= 0 && (countAt + 1 >= args.Length || !int.TryParse(args[countAt + 1], out count) || count < 1))
        throw new UsageException("--count takes a positive number.");
    var inputs = args.Where((a, i) => countAt < 0 || (i != countAt && i != countAt + 1)).ToArray();
    if (inputs.Length is < 2 or > 3) throw new UsageException(Usage);
    if (!File.Exists(inputs[0])) throw new UsageException($"No model at '{Path.GetFullPath(inputs[0])}': run the main job first, or pass the path of a model.zip.");
    foreach (string input in inputs[1..])
        if (!File.Exists(input) && !Directory.Exists(input)) throw new UsageException($"No file or folder at '{Path.GetFullPath(input)}'.");

    var ml = new MLContext();
    ml.ComponentCatalog.RegisterQuantization();
    var model = ml.Model.Load(inputs[0], out var inputSchema);
    var chain = model as IEnumerable<ITransformer> ?? [model];
    var classifier = chain.OfType<ImageClassifierTransformer>().LastOrDefault()
        ?? throw new UsageException($"'{inputs[0]}' holds no image classifier (ImageClassifier transformer); this sample scores image classifiers.");

    IDataView data;
    if (chain.OfType<ImageLoadingTransformer>().Any())
    {
        // The image path is the text column the saved pipeline takes besides the label.
        string pathColumn = inputSchema.FirstOrDefault(c => c.Type is TextDataViewType && c.Name != DatasetCatalog.LabelColumn).Name
            ?? throw new UsageException($"'{inputs[0]}' loads images but takes no text column of image paths.");
        if (inputs.Length != 2 || !Directory.Exists(inputs[1]))
            throw new UsageException($"'{inputs[0]}' takes image files (its pipeline starts with LoadImages on '{pathColumn}'): pass a folder of images, such as artifacts/image-classification/test-images.");
        data = ImageFiles(ml, inputs[1], pathColumn);
    }
    else
    {
        if (inputSchema.GetColumnOrNull(classifier.InputColumnName) is not { Type: VectorDataViewType { Size: > 0 } vector })
            throw new UsageException($"'{inputs[0]}' takes neither image files nor a pixel vector '{classifier.InputColumnName}'.");
        if (inputs.Length != 3 || !File.Exists(inputs[1]) || !File.Exists(inputs[2]))
            throw new UsageException($"'{inputs[0]}' takes a pixel vector '{classifier.InputColumnName}' ({vector.Size} values): pass IDX files, IMAGES-idx3-ubyte.gz LABELS-idx1-ubyte.gz.");
        data = ml.Data.LoadFromIdxImages(inputs[1], inputs[2], classifier.ClassNames.ToArray());
        if (classifier.InputColumnName != DatasetCatalog.PixelsColumn)
            data = ml.Transforms.CopyColumns(classifier.InputColumnName, DatasetCatalog.PixelsColumn).Fit(data).Transform(data);
    }

    // The classifier's PredictedLabel is a key; map it back to the class name for display.
    var sample = ml.Data.TakeRows(data, count);
    var scored = model.Transform(sample);
    var names = ml.Transforms.Conversion.MapKeyToValue("PredictedName", "PredictedLabel").Fit(scored).Transform(scored);
    var labels = sample.GetColumn<string>(DatasetCatalog.LabelColumn).ToList(); // the chain may have made Label a key
    var predicted = names.GetColumn<string>("PredictedName").ToList();
    // A folder cannot hold a '/', so a class such as "T-shirt/top" has its folder named "T-shirt-top".
    int labelled = labels.Count(l => l.Length > 0), correct = labels.Zip(predicted).Count(p => p.First.Length > 0 && p.First == p.Second.Replace('/', '-'));
    Console.WriteLine($"scored {predicted.Count} images, {labelled} labelled, {correct} correct ({(double)correct / Math.Max(1, labelled):P1})");
    foreach (var (label, prediction) in labels.Zip(predicted).Take(5)) Console.WriteLine($"  label {(label.Length > 0 ? label : "?"),-12} predicted {prediction}");
    Console.WriteLine($"libtorch loaded: {TorchLoaded()}");
    return 0;
}

// Every image file under the folder; a file in a subfolder is labelled with the subfolder's name.
static IDataView ImageFiles(MLContext ml, string folder, string pathColumn)
{
    string root = Path.GetFullPath(folder);
    var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
        .Where(f => Path.GetExtension(f).ToLowerInvariant() is ".png" or ".jpg" or ".jpeg" or ".bmp")
        .OrderBy(Path.GetFileName, StringComparer.Ordinal).ThenBy(f => f, StringComparer.Ordinal) // by file name first, so that --count takes every class
        .Select(f => new ImageFile { ImagePath = f, Label = Path.GetDirectoryName(f) == root ? "" : Path.GetFileName(Path.GetDirectoryName(f))! })
        .ToList();
    if (files.Count == 0) throw new UsageException($"No PNG, JPEG or BMP files under '{root}'.");
    var definition = SchemaDefinition.Create(typeof(ImageFile));
    definition[nameof(ImageFile.ImagePath)].ColumnName = pathColumn;
    return ml.Data.LoadFromEnumerable(files, definition);
}

// TorchSharp's managed assembly may be loaded as a dependency; its native library must not be.
static bool TorchLoaded() => File.ReadAllText("/proc/self/maps").Contains("libtorch", StringComparison.Ordinal);

/// <summary>One image file and its label (its folder's name).</summary>
internal sealed class ImageFile
{
    public string ImagePath { get; set; } = "";
    public string Label { get; set; } = "";
}
