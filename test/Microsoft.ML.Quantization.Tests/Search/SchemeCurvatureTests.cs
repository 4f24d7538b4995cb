using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Search;

/// <summary>QSS's curvature gap: its value, gradient and rise over the search, its running Fisher, its place in the trainer and its checkpoints.</summary>
/// <remarks>The resume test compares two searches draw for draw, so these run apart from the tests that seed torch's global generator.</remarks>
[Collection(TorchGlobalRandomCollection.Name)]
public class SchemeCurvatureTests
{
    private static readonly NetworkGraph LeNet = SearchRelaxationTests.LeNet;

    /// <summary>A latent tensor whose gradient is <paramref name="gradient"/> after one backward pass.</summary>
    private static Tensor WithGradient(float[] gradient)
    {
        var latent = zeros(gradient.Length).requires_grad_();
        (latent * tensor(gradient)).sum().backward();
        return latent;
    }

    [Fact]
    public void GapIsHalfTheFisherWeightedSpreadOfTheBranchesUnderSoftmaxTheta()
    {
        var store = new SearchParameters();
        var curvature = new SchemeCurvature(store, weight: 2);
        curvature.Register("v");
        var branches = tensor(new float[] { 1, 2, 3, 0, 2, 1, -1, 2, 0 }).reshape(3, 3);
        var theta = tensor(new float[] { 0.3f, -0.2f, 0.5f }).requires_grad_();
        var latent = WithGradient(new float[] { 1, 2, 2 });

        curvature.BeforeBatch();
        curvature.Observe("v", "v", branches, latent);
        Assert.Null(curvature.Gap(_ => theta, progress: 1)); // no F before the first backward pass
        curvature.AfterBackward(examples: 6);
        Assert.Equal(6 * (1 + 4 + 4) / 3.0, curvature.Fisher("v").item<float>(), 4); // 18

        // A second batch with gradient (2, 2, 2): F moves a tenth of the way to 6·4 = 24.
        curvature.BeforeBatch();
        curvature.Observe("v", "v", branches, WithGradient(new float[] { 2, 2, 2 }));
        curvature.AfterBackward(examples: 6);
        double fisher = 18 + 0.1 * (24 - 18);
        Assert.Equal(fisher, curvature.Fisher("v").item<float>(), 4);

        var gap = curvature.Gap(_ => theta, progress: 1)!;
        double[] p = Softmax(new[] { 0.3, -0.2, 0.5 });
        double[][] q = { new double[] { 1, 2, 3 }, new double[] { 0, 2, 1 }, new double[] { -1, 2, 0 } };
        double[] mean = Enumerable.Range(0, 3).Select(n => Enumerable.Range(0, 3).Sum(i => p[i] * q[i][n])).ToArray();
        double[] spread = q.Select(row => row.Select((v, n) => (v - mean[n]) * (v - mean[n])).Sum()).ToArray();
        Assert.Equal(2 * 0.5 * fisher * p.Zip(spread, (a, b) => a * b).Sum(), gap.item<float>(), 3);
        // The factor rises with the search: a quarter of the way in, a quarter of the gap.
        Assert.Equal(gap.item<float>() / 4, curvature.Gap(_ => theta, progress: 0.25)!.item<float>(), 3);

        // ∂gap/∂θ_k = π_k(½·w·F·spread_k − gap): the branch farthest from the mix loses, the nearest gains.
        gap.backward();
        var grad = theta.grad!.data<float>().ToArray();
        int farthest = Array.IndexOf(spread, spread.Max()), nearest = Array.IndexOf(spread, spread.Min());
        Assert.True(grad[farthest] > 0 && grad[nearest] < 0, string.Join(", ", grad));
        for (int k = 0; k < 3; k++) Assert.Equal(p[k] * (fisher * spread[k] - gap.item<float>()), grad[k], 2);

        // One-hot: nothing to gain.
        Assert.Equal(0, curvature.Gap(_ => tensor(new float[] { 40, 0, 0 }), progress: 1)!.item<float>(), 4);
    }

    [Fact]
    public void TheTrainerFeedsTheFisherAndTheGapKeepsALeadTheRelaxationWouldMixAway()
    {
        // Two 3-bit weight grids the loss barely tells apart (ClipQ and ResQ), random labels, every weight vertex starting
        // at 0.62 on ClipQ, and logits that may travel one unit over the search's 64 batches. The relaxed loss rewards a mix
        // (the mean of two grids lies nearer the weights than either), so without the gap the leads shrink; the gap, rising
        // over the search, cancels that reward and more, most where the curvature is largest (fc2's F is 20-200 times the others').
        Dictionary<string, (double Lead, float Fisher)> Search(double curvatureWeight)
        {
            random.manual_seed(21);
            using var data = new TrainingData(rand(2048, 1, 28, 28), randint(0, 4, new long[] { 2048 }));
            var options = new SchemeSearchOptions
            {
                WeightCandidates = new[] { QuantizationScheme.ClipQ, QuantizationScheme.ResQ },
                ActivationCandidates = new[] { QuantizationScheme.ClipQ },
                CurvatureWeight = curvatureWeight, EntropyWeight = 0, LogitTravel = 1, WeightLogitTravel = 1,
            };
            var search = new SchemeSearchQuantizers(SearchRelaxationTests.Vertices(), options);
            var trainer = new GraphTrainer(new TrainingOptions { Epochs = 2, BatchSize = 32, LearningRate = 2e-3, Seed = 3 }, "QSS");
            using var module = trainer.CreateModule(LeNet, search);
            var weights = search.Searched.Where(v => v.IsWeight).Select(v => v.Name).ToList();
            using (no_grad())
                foreach (string vertex in weights) search.Store[vertex].copy_(tensor(new float[] { 0.5f, 0 }));
            trainer.Train(module, data, search);
            Assert.Equal(curvatureWeight > 0 ? search.Searched.Count() : 0, search.Store.buffers().Count());
            if (curvatureWeight > 0)
                Assert.All(search.Searched, v => Assert.True(new SchemeCurvature(search.Store, 1).Fisher(v.Name).item<float>() > 0, $"the trainer's backward passes feed {v.Name}'s F"));
            return weights.ToDictionary(v => v, v => (search.History.Single(h => h.Epoch == 2 && h.Vertex == v).Probabilities[0],
                curvatureWeight > 0 ? new SchemeCurvature(search.Store, 1).Fisher(v).item<float>() : 0f));
        }

        var without = Search(0);
        var with = Search(6);
        Assert.Equal(new[] { "conv2.weight", "fc1.weight", "fc2.weight" }, with.Keys);
        string steepest = with.MaxBy(v => v.Value.Fisher).Key;
        Assert.True(with[steepest].Lead >= without[steepest].Lead + 0.1,
            $"{steepest}: {without[steepest].Lead:F3} on ClipQ without the gap, {with[steepest].Lead:F3} with it");
    }

    [Fact]
    public void TheFisherIsSavedAndResumedWithTheStage()
    {
        using var root = RepoPaths.TempDirectory();
        // A search of 2 epochs, killed (here: an exception) in its second epoch and run again, ends where it would have.
        float Fisher(string directory, bool killed)
        {
            random.manual_seed(4);
            using var data = new TrainingData(rand(64, 1, 28, 28), randint(0, 10, new long[] { 64 }));
            var search = new SchemeSearchQuantizers(SearchRelaxationTests.Vertices(), new SchemeSearchOptions { CurvatureWeight = 1 });
            var options = new TrainingOptions { Epochs = 2, BatchSize = 32, Seed = 3, CheckpointDirectory = directory };
            if (killed) options.Progress = new Kill();
            var trainer = new GraphTrainer(options, "QSS");
            using var module = trainer.CreateModule(LeNet, search);
            trainer.Train(module, data, search);
            return new SchemeCurvature(search.Store, 1).Fisher("conv2.weight").item<float>();
        }
        float straight = Fisher(root.File("straight"), killed: false);
        Assert.Throws<OperationCanceledException>(() => Fisher(root.File("resumed"), killed: true));
        Assert.True(straight > 0);
        Assert.Equal(straight, Fisher(root.File("resumed"), killed: false));
    }

    /// <summary>Stops a run at the first batch of its second epoch, after the first epoch's checkpoint.</summary>
    private sealed class Kill : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (value.Epoch == 2) throw new OperationCanceledException("killed");
        }
    }

    [Fact]
    public void ALatentThatIsNotALeafStillFeedsTheFisher()
    {
        // An embedding quantizes the rows a batch uses, selected from its table: the latent is not a leaf.
        var curvature = new SchemeCurvature(new SearchParameters(), weight: 1);
        curvature.Register("embedding.weight");
        var table = zeros(5, 2).requires_grad_();
        var rows = table.index_select(0, tensor(new long[] { 1, 3 }));
        curvature.BeforeBatch();
        curvature.Observe("embedding.weight", "embedding.weight", zeros(2, 4), rows);
        (rows * tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2)).sum().backward();
        curvature.AfterBackward(examples: 4);
        Assert.Equal(4 * (1 + 4 + 9 + 16) / 4.0, curvature.Fisher("embedding.weight").item<float>(), 4);
    }

    [Fact]
    public void ANegativeOrInfiniteWeightIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SchemeSearchOptions { CurvatureWeight = -1 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new SchemeSearchOptions { CurvatureWeight = double.PositiveInfinity }.Validate());
        new SchemeSearchOptions { CurvatureWeight = 1 }.Validate();
    }

    /// <summary>softmax of <paramref name="logits"/> in double precision, the reference the search tests compare with.</summary>
    internal static double[] Softmax(double[] logits)
    {
        double total = logits.Sum(Math.Exp);
        return logits.Select(l => Math.Exp(l) / total).ToArray();
    }
}
