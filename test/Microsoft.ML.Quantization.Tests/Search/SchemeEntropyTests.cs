using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Search;

/// <summary>QSS's entropy term: its value and rise over the search, and the decisions it brings where the loss cannot tell schemes apart.</summary>
/// <remarks>They seed torch's global generator and compare searches, so they run apart from the tests that seed it too.</remarks>
[Collection(TorchGlobalRandomCollection.Name)]
public class SchemeEntropyTests
{
    private static readonly NetworkGraph LeNet = SearchRelaxationTests.LeNet;

    [Fact]
    public void TheLossIsTheWeightedEntropyOfEveryThetaRisingWithTheSearch()
    {
        var options = new SchemeSearchOptions
        {
            WeightCandidates = new[] { QuantizationScheme.ClipQ, QuantizationScheme.ResQ, QuantizationScheme.PotQ },
            ActivationCandidates = new[] { QuantizationScheme.ClipQ, QuantizationScheme.ZoomQ },
            CurvatureWeight = 0, EntropyWeight = 0.5, WeightLogitTravel = 72,
        };
        var search = new SchemeSearchQuantizers(SearchRelaxationTests.Vertices(), options);
        var trainer = new GraphTrainer(new TrainingOptions { BatchSize = 8 }, "QSS");
        using var module = trainer.CreateModule(LeNet, search);
        double expected = 0;
        int index = 0;
        foreach (var vertex in search.Searched)
        {
            // Weight logits are θ times their travel over the activations' (72 / 24 = 3): the entropy is of what is sampled.
            var theta = vertex.IsWeight ? new[] { 0.1 * index, -0.05 * index, 0.2 } : new[] { 0.3 - 0.1 * index, 0.0 };
            using (no_grad()) search.Store[vertex.Name].copy_(tensor(theta.Select(t => (float)t).ToArray()));
            expected += Entropy(theta.Select(t => vertex.IsWeight ? 3 * t : t).ToArray());
            index++;
        }

        search.BeforeBatch(0, progress: 0);
        Assert.Null(search.Loss()); // nothing at the search's first batch
        search.BeforeBatch(0.5, progress: 0.5);
        using var loss = search.Loss()!;
        Assert.Equal(0.5 * 0.5 * 0.5 * expected, loss.item<float>(), 4); // the weight times progress²

        // ∂H/∂θ_k = −π_k(log π_k + H): the scheme in the lead gains.
        loss.backward();
        var conv2 = search.Store["conv2.weight"];
        var grad = conv2.grad!.data<float>().ToArray();
        int lead = (int)conv2.argmax().item<long>();
        Assert.True(grad[lead] < 0 && grad.Where((_, k) => k != lead).All(g => g > 0), string.Join(", ", grad));

        var without = new SchemeSearchQuantizers(SearchRelaxationTests.Vertices(), new SchemeSearchOptions { CurvatureWeight = 0, EntropyWeight = 0 });
        using var plain = trainer.CreateModule(LeNet, without);
        without.BeforeBatch(0.5, progress: 0.5);
        Assert.Null(without.Loss());
    }

    [Fact]
    public void TheEntropyDecidesVerticesTheLossLeavesTorn()
    {
        // Two 3-bit grids the loss barely tells apart, random labels, every θ at a lead of 0.1 and the default travel: the
        // relaxed loss rewards the mix, so without the term the weakest vertex ends the search torn (0.64).
        double WeakestLead(double entropyWeight)
        {
            random.manual_seed(21);
            using var data = new TrainingData(rand(1024, 1, 28, 28), randint(0, 4, new long[] { 1024 }));
            var options = new SchemeSearchOptions
            {
                WeightCandidates = new[] { QuantizationScheme.ClipQ, QuantizationScheme.ResQ },
                ActivationCandidates = new[] { QuantizationScheme.ClipQ, QuantizationScheme.ZoomQ },
                CurvatureWeight = 0, EntropyWeight = entropyWeight,
            };
            var search = new SchemeSearchQuantizers(SearchRelaxationTests.Vertices(), options);
            var trainer = new GraphTrainer(new TrainingOptions { Epochs = 2, BatchSize = 32, LearningRate = 2e-3, Seed = 3 }, "QSS");
            using var module = trainer.CreateModule(LeNet, search);
            using (no_grad())
                foreach (var vertex in search.Searched) search.Store[vertex.Name].copy_(tensor(new float[] { 0.1f, 0 }));
            trainer.Train(module, data, search);
            return search.History.Where(h => h.Epoch == 2).Min(h => h.Probabilities.Max());
        }

        double without = WeakestLead(0), with = WeakestLead(0.03);
        Assert.True(with >= without + 0.2, $"the weakest vertex holds {without:F3} without the term, {with:F3} with it");
    }

    [Fact]
    public void ANegativeOrInfiniteWeightIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SchemeSearchOptions { EntropyWeight = -0.1 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new SchemeSearchOptions { EntropyWeight = double.NaN }.Validate());
        new SchemeSearchOptions { EntropyWeight = 0 }.Validate();
    }

    private static double Entropy(double[] logits) => -SchemeCurvatureTests.Softmax(logits).Sum(p => p * Math.Log(p));
}
