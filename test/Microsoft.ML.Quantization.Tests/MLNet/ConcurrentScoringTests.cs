using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet;

/// <summary>One loaded quantized model shared by eight threads, each with its own PredictionEngine, scores exactly as one thread does.</summary>
public class ConcurrentScoringTests
{
    public class Image
    {
        [VectorType(784)] public float[] Pixels { get; set; } = Array.Empty<float>();
        public string Label { get; set; } = "";
    }

    public class Prediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void EightThreadsMatchOneThread()
    {
        const int threads = 8, perThread = 10_000;
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterQuantization();
        var model = ml.Model.Load(Path.Combine(RepoPaths.Root, "test", "Microsoft.ML.Quantization.Tests", "Fixtures", "image-classifier-v2.zip"), out _);
        var images = ml.Data.CreateEnumerable<Image>(ml.Data.LoadFromIdxImages(RepoPaths.Subset("fashion-mnist", "t10k-images-idx3-ubyte.gz"),
            RepoPaths.Subset("fashion-mnist", "t10k-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames), reuseRowObject: false).ToArray();
        var single = ml.Model.CreatePredictionEngine<Image, Prediction>(model);
        var expected = images.Select(i => single.Predict(i).Score).ToArray();

        var mismatches = new int[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var engine = ml.Model.CreatePredictionEngine<Image, Prediction>(model);
            for (int n = 0; n < perThread; n++)
            {
                int i = (t * 7919 + n) % images.Length;
                if (!engine.Predict(images[i]).Score.AsSpan().SequenceEqual(expected[i])) mismatches[t]++;
            }
        });
        Assert.All(mismatches, m => Assert.Equal(0, m));
    }
}
