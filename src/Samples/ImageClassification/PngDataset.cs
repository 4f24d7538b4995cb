using Microsoft.ML.Data;

namespace Microsoft.ML.Quantization.Samples.ImageClassification;

/// <summary>One image file and its label.</summary>
public sealed class PngRow
{
    public string ImagePath { get; set; } = "";
    public string Label { get; set; } = "";
}

/// <summary>What the sample reads back from a prediction.</summary>
public sealed class PngPrediction
{
    public float[] Score { get; set; } = Array.Empty<float>();
    public string PredictedClass { get; set; } = "";
}

/// <summary>Writes IDX images as PNG files, so the sample reads real image files through ImageAnalytics.</summary>
internal static class PngDataset
{
    /// <summary>The PNG folder for a data directory: one per directory, so the subset's files never stand in for the full data's.</summary>
    public static string FolderFor(string dataDirectory) => Path.Combine(Path.GetTempPath(), "mlquant-fashion-png",
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Path.GetFullPath(dataDirectory))))[..16]);

    public static List<PngRow> Write(MLContext ml, string dataDirectory, string split, string folder)
    {
        var data = ml.Data.LoadFromIdxImages(
            Path.Combine(dataDirectory, $"{split}-images-idx3-ubyte.gz"), Path.Combine(dataDirectory, $"{split}-labels-idx1-ubyte.gz"),
            DatasetCatalog.FashionMnistClassNames);
        string directory = Path.Combine(folder, split);
        Directory.CreateDirectory(directory);
        var rows = new List<PngRow>();
        int index = 0;
        foreach (var (pixels, label) in data.GetColumn<float[]>(DatasetCatalog.PixelsColumn).Zip(data.GetColumn<string>(DatasetCatalog.LabelColumn)))
        {
            string relative = Path.Combine(split, $"{index++:D5}.png");
            string path = Path.Combine(folder, relative);
            if (!File.Exists(path))
            {
                var bgra = new byte[pixels.Length * 4];
                for (int i = 0; i < pixels.Length; i++)
                {
                    byte v = (byte)pixels[i];
                    bgra[4 * i] = bgra[4 * i + 1] = bgra[4 * i + 2] = v;
                    bgra[4 * i + 3] = 255;
                }
                using var image = MLImage.CreateFromPixels(28, 28, MLPixelFormat.Bgra32, bgra);
                // Written aside and renamed: a run killed mid-write never leaves a truncated PNG to be reused.
                string temporary = Path.ChangeExtension(path, $".{Environment.ProcessId}.tmp.png");
                image.Save(temporary);
                File.Move(temporary, path, overwrite: true);
            }
            rows.Add(new PngRow { ImagePath = relative, Label = label });
        }
        return rows;
    }

    /// <summary>
    /// Copies <paramref name="rows"/>' PNG files from <paramref name="folder"/> into <paramref name="target"/>, one
    /// subfolder per class (the layout the scoring sample reads labels from; a '/' in a class name, as in
    /// "T-shirt/top", becomes '-' in its folder's); returns <paramref name="target"/>.
    /// </summary>
    public static string CopyByClass(IEnumerable<PngRow> rows, string folder, string target)
    {
        if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
        foreach (var row in rows)
        {
            string directory = Path.Combine(target, row.Label.Replace('/', '-'));
            Directory.CreateDirectory(directory);
            File.Copy(Path.Combine(folder, row.ImagePath), Path.Combine(directory, Path.GetFileName(row.ImagePath)));
        }
        return target;
    }
}
