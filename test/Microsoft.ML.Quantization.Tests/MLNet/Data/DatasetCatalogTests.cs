using System.IO.Compression;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet.Data;

public class DatasetCatalogTests
{
    private static readonly string TrainImages = RepoPaths.Subset("fashion-mnist", "train-images-idx3-ubyte.gz");
    private static readonly string TrainLabels = RepoPaths.Subset("fashion-mnist", "train-labels-idx1-ubyte.gz");
    private static readonly string TestImages = RepoPaths.Subset("fashion-mnist", "t10k-images-idx3-ubyte.gz");
    private static readonly string TestLabels = RepoPaths.Subset("fashion-mnist", "t10k-labels-idx1-ubyte.gz");

    [Fact]
    public void LoadsTheEmbeddedFashionMnistSubsetStratified()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromIdxImages(TrainImages, TrainLabels, DatasetCatalog.FashionMnistClassNames);
        var pixels = train.Schema[DatasetCatalog.PixelsColumn].Type as VectorDataViewType;
        Assert.NotNull(pixels);
        Assert.Equal(784, pixels!.Size);

        var labels = train.GetColumn<string>(DatasetCatalog.LabelColumn).ToList();
        Assert.Equal(6000, labels.Count);
        Assert.All(labels.GroupBy(l => l), g => Assert.Equal(600, g.Count()));
        Assert.Equal(DatasetCatalog.FashionMnistClassNames, labels.Take(10));

        var first = train.GetColumn<float[]>(DatasetCatalog.PixelsColumn).First();
        Assert.All(first, v => Assert.InRange(v, 0f, 255f));
        Assert.Contains(first, v => v > 0);

        var test = ml.Data.LoadFromIdxImages(TestImages, TestLabels, DatasetCatalog.FashionMnistClassNames);
        Assert.Equal(1000, test.GetColumn<string>(DatasetCatalog.LabelColumn).Count());
    }

    [Fact]
    public void LoadsTheEmbeddedSpamAssassinSubset()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromLabeledTextTsv(RepoPaths.Subset("spam-assassin", "train.tsv.gz"));
        var labels = train.GetColumn<string>(DatasetCatalog.LabelColumn).ToList();
        Assert.Equal(1200, labels.Count);
        Assert.Equal(new[] { "ham", "spam" }, labels.Distinct().OrderBy(l => l));
        Assert.All(train.GetColumn<string>(DatasetCatalog.TextColumn).Take(50), t => Assert.False(string.IsNullOrWhiteSpace(t)));
    }

    [Fact]
    public void MissingFileNamesThePath()
    {
        var ml = new MLContext();
        var error = Assert.Throws<FileNotFoundException>(() => ml.Data.LoadFromIdxImages("/nonexistent/images.gz", TrainLabels));
        Assert.Contains("/nonexistent/images.gz", error.Message);
    }

    [Fact]
    public void TruncatedImageFileIsInvalidData()
    {
        using var temp = RepoPaths.TempDirectory();
        byte[] raw = Decompress(TestImages);
        string truncated = temp.File("truncated.idx");
        File.WriteAllBytes(truncated, raw[..(raw.Length / 2)]);
        var error = Assert.Throws<InvalidDataException>(() => new MLContext().Data.LoadFromIdxImages(truncated, TestLabels));
        Assert.Contains("truncated", error.Message);
        Assert.Contains(truncated, error.Message);
    }

    [Fact]
    public void WrongMagicAndMismatchedCountsAreInvalidData()
    {
        using var temp = RepoPaths.TempDirectory();
        var ml = new MLContext();
        // Labels passed as images: wrong magic.
        var magic = Assert.Throws<InvalidDataException>(() => ml.Data.LoadFromIdxImages(TestLabels, TestLabels));
        Assert.Contains("magic", magic.Message);
        // 1,000 test images against 6,000 train labels.
        var counts = Assert.Throws<InvalidDataException>(() => ml.Data.LoadFromIdxImages(TestImages, TrainLabels));
        Assert.Contains("1000 images", counts.Message);
    }

    [Fact]
    public void CorruptGzipAndMalformedTsvAreInvalidData()
    {
        using var temp = RepoPaths.TempDirectory();
        var ml = new MLContext();
        byte[] gz = File.ReadAllBytes(RepoPaths.Subset("spam-assassin", "test.tsv.gz"));
        for (int i = 100; i < gz.Length; i += 97) gz[i] ^= 0x5a;
        string corrupt = temp.File("corrupt.tsv.gz");
        File.WriteAllBytes(corrupt, gz);
        Assert.Throws<InvalidDataException>(() => ml.Data.LoadFromLabeledTextTsv(corrupt));

        string noTab = temp.File("notab.tsv");
        File.WriteAllLines(noTab, new[] { "ham\thello", "spam without a tab" });
        var error = Assert.Throws<InvalidDataException>(() => ml.Data.LoadFromLabeledTextTsv(noTab));
        Assert.Contains("line 2", error.Message);

        string empty = temp.File("empty.tsv");
        File.WriteAllText(empty, "");
        Assert.Contains("no rows", Assert.Throws<InvalidDataException>(() => ml.Data.LoadFromLabeledTextTsv(empty)).Message);
    }

    private static byte[] Decompress(string path)
    {
        using var input = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var output = new MemoryStream();
        input.CopyTo(output);
        return output.ToArray();
    }
}
