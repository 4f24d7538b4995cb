using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet.Classifiers;

/// <summary>Scoring a loaded quantized model: shared by eight threads it scores exactly as one thread does; non-finite pixels behave as documented.</summary>
public class LoadedModelScoringTests
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
    public void NaNPixelsAreRefusedAndInfinitePixelsClipped()
    {
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterQuantization();
        var model = ml.Model.Load(RepoPaths.ImageClassifierFixture, out _);
        var engine = ml.Model.CreatePredictionEngine<Image, Prediction>(model);
        var pixels = new float[784];
        pixels[100] = float.NaN;
        var error = Assert.ThrowsAny<Exception>(() => engine.Predict(new Image { Pixels = pixels }));
        var argument = error as ArgumentException ?? error.InnerException as ArgumentException;
        Assert.NotNull(argument);
        Assert.Contains("index 100", argument!.Message);

        // The quantized model clips ±∞ to its end levels: the same scores as the largest and smallest finite pixels.
        pixels[100] = float.PositiveInfinity;
        var infinite = engine.Predict(new Image { Pixels = pixels }).Score;
        pixels[100] = float.MaxValue;
        Assert.Equal(engine.Predict(new Image { Pixels = pixels }).Score, infinite);
        Assert.All(infinite, p => Assert.True(float.IsFinite(p)));
    }

    [Fact]
    public void EightThreadsMatchOneThread()
    {
        const int threads = 8, perThread = 10_000;
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterQuantization();
        var model = ml.Model.Load(RepoPaths.ImageClassifierFixture, out _);
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
