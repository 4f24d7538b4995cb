using Microsoft.ML.Quantization.Graph;
using SkiaSharp;

namespace Microsoft.ML.Quantization.Tests.Infrastructure;

/// <summary>
/// A colour data set drawn here (there is none to download): class 0 red, 1 green, 2 blue, each a noisy tint of mixed
/// size, and a saved image pipeline (LoadImages → ResizeImages → ExtractPixels RGB → ImageClassifier) trained on it.
/// </summary>
internal static class ColourImages
{
    /// <summary>The class names, by class index.</summary>
    public static readonly string[] Classes = { "red", "green", "blue" };

    /// <summary>A row of the pipeline's input.</summary>
    public sealed class Row
    {
        public string Path { get; set; } = "";
        public string Label { get; set; } = "";
    }

    /// <summary>The pipeline's prediction.</summary>
    public sealed class Prediction
    {
        public string PredictedClass { get; set; } = "";
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    /// <summary>A <paramref name="width"/>×<paramref name="height"/> image of class <paramref name="label"/>.</summary>
    public static SKBitmap Draw(int label, int width, int height, Random random)
    {
        var bitmap = new SKBitmap(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
            {
                byte Channel(int c) => (byte)Math.Clamp((c == label ? 170 : 60) + random.Next(-50, 50), 0, 255);
                bitmap.SetPixel(x, y, new SKColor(Channel(0), Channel(1), Channel(2)));
            }
        return bitmap;
    }

    /// <summary>The bitmap encoded as <paramref name="format"/>; disposes it.</summary>
    public static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format)
    {
        using (bitmap)
        using (var data = bitmap.Encode(format, 90))
            return data.ToArray();
    }

    /// <summary>
    /// Writes <paramref name="perClass"/> images per class of mixed sizes, half JPEG and half PNG, into one folder per class
    /// under <paramref name="root"/>, the way a user's data set is laid out.
    /// </summary>
    public static void WriteClassFolders(string root, int perClass, int seed)
    {
        var random = new Random(seed);
        for (int label = 0; label < Classes.Length; label++)
        {
            Directory.CreateDirectory(Path.Combine(root, Classes[label]));
            for (int i = 0; i < perClass; i++)
            {
                var format = i % 2 == 0 ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Jpeg;
                File.WriteAllBytes(Path.Combine(root, Classes[label], $"{i}.{(format == SKEncodedImageFormat.Png ? "png" : "jpg")}"),
                    Encode(Draw(label, random.Next(16, 64), random.Next(16, 64), random), format));
            }
        }
    }

    /// <summary>Draws 20 images per class of mixed sizes and formats under <paramref name="folder"/>, trains the pipeline on them and saves it; returns the model's path.</summary>
    public static string TrainPipeline(string folder)
    {
        string images = Path.Combine(folder, "images");
        WriteClassFolders(images, perClass: 20, seed: 4);
        var rows = Classes.SelectMany(label => Directory.EnumerateFiles(Path.Combine(images, label)).Order(StringComparer.Ordinal)
            .Select(file => new Row { Path = Path.GetRelativePath(images, file), Label = label })).ToList();
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadImages("Image", images, nameof(Row.Path)))
            .Append(ml.Transforms.ResizeImages("Image", 24, 24))
            .Append(ml.Transforms.ExtractPixels("Pixels", "Image"))
            .Append(ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions
            {
                FeatureColumnName = "Pixels", ImageShape = new[] { 3, 24, 24 }, Graph = NetworkGraphs.LeNet5(3, 24, Classes.Length), Epochs = 3, BatchSize = 16,
            }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"))
            .Fit(data);
        string path = Path.Combine(folder, "model.zip");
        ml.Model.Save(model, data.Schema, path);
        return path;
    }
}
