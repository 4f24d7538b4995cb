using Microsoft.ML.Data;

namespace Microsoft.ML.Quantization.Tools.Mlquant;

/// <summary>One image of the data set: its path relative to the data set folder and its class (its folder's name).</summary>
public sealed class ImageRow
{
    /// <summary>Path relative to the data set folder.</summary>
    public string ImagePath { get; set; } = "";

    /// <summary>The class.</summary>
    public string Label { get; set; } = "";
}

/// <summary>
/// A folder with one subfolder per class of JPEG, PNG or BMP images of any size, grey or colour: every image is opened
/// once through ML.NET's own image loading, so that a file it cannot read is listed and skipped before training, not
/// met halfway through it; the rest is split per class, so the validation set keeps the classes' proportions.
/// </summary>
internal sealed class ImageFolder
{
    private static readonly string[] Extensions = { ".jpg", ".jpeg", ".png", ".bmp" };

    private ImageFolder(string root, IReadOnlyList<string> classes, IReadOnlyList<ImageRow> images, IReadOnlyList<string> unreadable, int channels)
    {
        Root = root;
        Classes = classes;
        Images = images;
        Unreadable = unreadable;
        Channels = channels;
    }

    /// <summary>The data set folder.</summary>
    public string Root { get; }

    /// <summary>The class names, in order.</summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>Every readable image.</summary>
    public IReadOnlyList<ImageRow> Images { get; }

    /// <summary>The images that could not be read (relative paths), skipped.</summary>
    public IReadOnlyList<string> Unreadable { get; }

    /// <summary>3 where any image has colour, else 1.</summary>
    public int Channels { get; }

    /// <summary>Scans <paramref name="root"/>.</summary>
    /// <exception cref="Samples.UsageException">The folder is missing, or has fewer than two classes with a readable image.</exception>
    public static ImageFolder Scan(string root, IProgress<(int Done, int Total)>? progress = null)
    {
        if (!Directory.Exists(root)) throw new Samples.UsageException($"No data set folder at '{Path.GetFullPath(root)}': pass --dataset DIR with one subfolder per class.");
        var files = Directory.GetDirectories(root).Order(StringComparer.Ordinal)
            .SelectMany(dir => Directory.EnumerateFiles(dir).Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal)
                .Select(f => (Class: Path.GetFileName(dir), File: f)))
            .ToList();
        var images = new List<ImageRow>();
        var unreadable = new List<string>();
        bool colour = false;
        for (int i = 0; i < files.Count; i++)
        {
            string relative = Path.GetRelativePath(root, files[i].File);
            try
            {
                using var image = MLImage.CreateFromFile(files[i].File);
                colour |= IsColour(image);
                images.Add(new ImageRow { ImagePath = relative, Label = files[i].Class });
            }
            catch (ArgumentException)
            {
                unreadable.Add(relative);
            }
            progress?.Report((i + 1, files.Count));
        }
        var classes = images.Select(r => r.Label).Distinct().ToList();
        if (classes.Count < 2)
            throw new Samples.UsageException($"'{Path.GetFullPath(root)}' has {classes.Count} class folder(s) with readable JPEG, PNG or BMP images; a classifier needs at least two.");
        return new ImageFolder(Path.GetFullPath(root), classes, images, unreadable, colour ? 3 : 1);
    }

    /// <summary>Whether the image's pixels differ between channels (sampled on a grid).</summary>
    private static bool IsColour(MLImage image)
    {
        var pixels = image.Pixels; // 4 bytes per pixel, alpha included
        int count = pixels.Length / 4, step = Math.Max(1, count / 4096);
        for (int p = 0; p < count; p += step)
        {
            byte a = pixels[4 * p], b = pixels[4 * p + 1], c = pixels[4 * p + 2];
            if (a != b || b != c) return true;
        }
        return false;
    }
}
