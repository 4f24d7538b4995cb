using Microsoft.ML.Data;
using Microsoft.ML.Quantization.MLNet.Data;

namespace Microsoft.ML.Quantization;

/// <summary>Loaders for the data formats the samples and benchmarks use, as ML.NET <see cref="IDataView"/>s.</summary>
public static class DatasetCatalog
{
    /// <summary>Name of the pixel column: a float vector of height·width values in 0..255, row-major.</summary>
    public const string PixelsColumn = "Pixels";

    /// <summary>Name of the label column (a string; map it to a key with <c>MapValueToKey</c>).</summary>
    public const string LabelColumn = "Label";

    /// <summary>Name of the text column of labelled text.</summary>
    public const string TextColumn = "Text";

    /// <summary>
    /// Loads an IDX image file and its IDX label file (MNIST format, plain or gzip) as columns
    /// <see cref="PixelsColumn"/> and <see cref="LabelColumn"/>. Labels become the names in
    /// <paramref name="classNames"/> (default: the digits "0".."9" as text).
    /// </summary>
    /// <exception cref="FileNotFoundException">A file does not exist.</exception>
    /// <exception cref="InvalidDataException">A file is truncated, not IDX, or the two files disagree.</exception>
    public static IDataView LoadFromIdxImages(this DataOperationsCatalog catalog, string imagesPath, string labelsPath, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var (images, height, width) = IdxReader.ReadImages(imagesPath);
        byte[] labels = IdxReader.ReadLabels(labelsPath);
        if (labels.Length != images.Length)
            throw new InvalidDataException($"'{imagesPath}' holds {images.Length} images but '{labelsPath}' holds {labels.Length} labels.");
        var names = classNames ?? Enumerable.Range(0, 10).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var rows = new ImageRow[images.Length];
        for (int i = 0; i < images.Length; i++)
        {
            if (labels[i] >= names.Count)
                throw new InvalidDataException($"'{labelsPath}' label {i} is {labels[i]}, but only {names.Count} classes are named.");
            rows[i] = new ImageRow { Pixels = Array.ConvertAll(images[i], b => (float)b), Label = names[labels[i]] };
        }
        var schema = SchemaDefinition.Create(typeof(ImageRow));
        schema[nameof(ImageRow.Pixels)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, height * width);
        return catalog.LoadFromEnumerable(rows, schema);
    }

    /// <summary>Loads a two-column TSV (label, tab, text; plain or gzip) as <see cref="LabelColumn"/> and <see cref="TextColumn"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">A line lacks its tab, the file is not UTF-8 or holds no rows.</exception>
    public static IDataView LoadFromLabeledTextTsv(this DataOperationsCatalog catalog, string path)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var rows = LabeledTextReader.Read(path).Select(r => new TextRow { Label = r.Label, Text = r.Text });
        return catalog.LoadFromEnumerable(rows.ToList());
    }

    /// <summary>The ten Fashion-MNIST class names, by label.</summary>
    public static IReadOnlyList<string> FashionMnistClassNames { get; } = new[]
    {
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    };

    private sealed class ImageRow
    {
        public float[] Pixels { get; set; } = Array.Empty<float>();
        public string Label { get; set; } = "";
    }

    private sealed class TextRow
    {
        public string Label { get; set; } = "";
        public string Text { get; set; } = "";
    }
}
