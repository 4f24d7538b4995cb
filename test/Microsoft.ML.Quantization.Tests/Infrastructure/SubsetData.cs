namespace Microsoft.ML.Quantization.Tests.Infrastructure;

/// <summary>The committed Fashion-MNIST subset as the MLNet tests read it.</summary>
internal static class SubsetData
{
    /// <summary>A seeded context, the first <paramref name="trainCount"/> training images and the first <paramref name="testCount"/> test images ("Pixels", "Label").</summary>
    public static (MLContext Ml, IDataView Train, IDataView Test) FashionMnist(int trainCount, int testCount = 300)
    {
        var ml = new MLContext(seed: 1);
        IDataView Load(string images, string labels) => ml.Data.LoadFromIdxImages(RepoPaths.Subset("fashion-mnist", images), RepoPaths.Subset("fashion-mnist", labels), DatasetCatalog.FashionMnistClassNames);
        return (ml, ml.Data.TakeRows(Load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"), trainCount), ml.Data.TakeRows(Load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"), testCount));
    }
}
