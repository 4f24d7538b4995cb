using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Search;

/// <summary>The relaxations of QSS, QPL and DQA on their own: values, gradients, schedules and final choices.</summary>
public class SearchRelaxationTests
{
    /// <summary>LeNet-5 prepared by QAG, the search tests' network.</summary>
    internal static readonly NetworkGraph LeNet = Qag.Prepare(NetworkGraphs.LeNet5());

    /// <summary>Its quantizer vertices, the first and last layers fixed at 8 bits.</summary>
    internal static IReadOnlyList<QuantizerVertex> Vertices() => QuantizerVertex.Of(LeNet, new HashSet<string> { "conv1", "fc3" });

    /// <summary><see cref="Vertices"/> with every searched vertex at ClipQ-3, the fixed ones left at 8 bits.</summary>
    private static List<QuantizerVertex> SearchedAsClipQ3() =>
        Vertices().Select(v => v.IsFixed ? v : v with { Spec = new QuantizerSpec(QuantizationScheme.ClipQ, 3, v.Spec.Granularity) }).ToList();

    [Fact]
    public void VerticesCoverEveryWeightAndInputEdgeAndCountElements()
    {
        var vertices = Vertices();
        Assert.Equal(10, vertices.Count); // 5 layers × (weight + input)
        var conv2 = vertices.Single(v => v.Name == "conv2.weight");
        Assert.Equal(16L * 6 * 5 * 5, conv2.Elements);
        Assert.Equal(6L * 14 * 14, vertices.Single(v => v.Name == "conv2.q0").Elements);
        Assert.True(vertices.Single(v => v.Name == "conv1.weight").IsFixed);
        Assert.False(conv2.IsFixed);
    }

    [Fact]
    public void GumbelSoftmaxIsADistributionThatSharpensAsTheTemperatureFalls()
    {
        random.manual_seed(3);
        var logits = tensor(new[] { 1f, 0f, -1f });
        using var hot = SchemeSearchQuantizers.GumbelSoftmax(logits, 100);
        using var cold = SchemeSearchQuantizers.GumbelSoftmax(logits, 0.01);
        Assert.Equal(1.0, hot.sum().item<float>(), 4);
        Assert.Equal(1.0, cold.sum().item<float>(), 4);
        Assert.True(hot.max().item<float>() < 0.4f, "a high temperature is near uniform");
        Assert.True(cold.max().item<float>() > 0.99f, "a low temperature is near one-hot");
        var options = new SchemeSearchOptions { InitialTemperature = 4, TemperatureDecay = 0.5 };
        Assert.Equal(4, options.Temperature(0), 9);
        Assert.Equal(1, options.Temperature(2), 9);
    }

    [Fact]
    public void EachKindIsSearchedAtItsOwnBitwidthWhereOneIsGiven()
    {
        var options = new SchemeSearchOptions { WeightSearchBits = 2 };
        var weights = options.WeightSpecs().ToDictionary(s => s.Scheme, s => s.Bits);
        Assert.Equal(2, weights[QuantizationScheme.ClipQ]);
        Assert.Equal(2, weights[QuantizationScheme.PotQ]);
        Assert.Equal(1, weights[QuantizationScheme.Binary]); // a fixed-width scheme keeps its width
        Assert.All(options.ActivationSpecs(), s => Assert.Equal(3, s.Bits)); // SearchBits, the default 3
        options.ActivationSearchBits = 4;
        Assert.All(options.ActivationSpecs(), s => Assert.Equal(4, s.Bits));
        Assert.Equal(2, options.WeightSpecs().Single(s => s.Scheme == QuantizationScheme.ZoomQ).Bits);
    }

    [Fact]
    public void SchemeMixtureSendsGradientsToTheLogitsAndKeepsTheArgmaxOutsideTraining()
    {
        random.manual_seed(1);
        var search = new SchemeSearchQuantizers(Vertices(), new SchemeSearchOptions());
        using var module = new GraphModule(LeNet, quantizers: search);
        module.train();
        var x = randn(8, 1, 28, 28);
        module.call(x).Squared().sum().backward();
        foreach (string key in search.Store.Keys)
        {
            var grad = search.Store[key].grad;
            Assert.NotNull(grad);
            Assert.True(grad!.abs().sum().item<float>() > 0, $"θ of {key} got no gradient");
        }
        Assert.Equal(6, search.Store.Keys.Count()); // conv2, fc1, fc2 × (weight, input)

        using (no_grad()) search.Store["conv2.weight"][3] = 5; // FixedQ
        var chosen = search.Result();
        Assert.Equal(new QuantizerSpec(QuantizationScheme.FixedQ, 3, QuantizationGranularity.PerOutputChannel), chosen["conv2.weight"]);
        Assert.Equal(8, chosen["conv1.weight"].Bits); // fixed vertices keep their 8 bits
        search.AfterEpoch(1);
        var recorded = search.History.Single(h => h.Vertex == "conv2.weight");
        Assert.Equal(8, recorded.Candidates.Count);
        Assert.Equal(1.0, recorded.Probabilities.Sum(), 6);
        Assert.Equal(3, recorded.Probabilities.ToList().IndexOf(recorded.Probabilities.Max()));
        Assert.Equal(5, search.History.Single(h => h.Vertex == "conv2.q0").Candidates.Count); // activations skip B, T, Q
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void MixtureIsTheWeightedSumOfItsBranchesWithEachBranchsStraightThroughGradient(bool isWeight)
    {
        random.manual_seed(7);
        var specs = new SchemeSearchOptions().ActivationSpecs(); // ZoomQ and ClipQ clip, the others do not
        var w = tensor(new[] { 0.1f, 0.2f, 0.3f, 0.15f, 0.25f }).requires_grad_();
        using var mixture = new MixtureQuantizer("m", specs, isWeight, _ => w, () => 0);
        mixture.train();
        var x = randn(6, 40).Times(2).requires_grad_();
        var g = randn(6, 40);
        (mixture.call(x) * g).sum().backward();

        var value = zeros(6, 40);
        var passing = zeros(6, 40);
        var weightGrad = new float[specs.Count];
        for (int i = 0; i < specs.Count; i++)
        {
            var spec = specs[i];
            using var sample = isWeight ? null : SchemeMath.ActivationSample(x.detach());
            var (q, mask) = SchemeMath.For(spec.Scheme).Parts(x.detach(), spec.Bits, spec.Granularity, sample);
            value = value.Plus(w.detach()[i] * q);
            passing = passing.Plus(w.detach()[i] * (mask ?? ones_like(q)));
            weightGrad[i] = (g * q).sum().item<float>();
        }
        using (no_grad())
        {
            Assert.True(mixture.call(x).allclose(value, 1e-5, 1e-5), "Σ w_i·Q_i(x)");
        }
        Assert.True(x.grad!.allclose(g * passing, 1e-5, 1e-5), "x receives g·Σ w_i·mask_i");
        var grad = w.grad!.data<float>().ToArray();
        for (int i = 0; i < specs.Count; i++) Assert.Equal(weightGrad[i], grad[i], 1e-3 * Math.Max(1, Math.Abs(weightGrad[i]))); // <g, Q_i(x)>
    }

    [Fact]
    public void GumbelNoiseIsDrawnOncePerBatch()
    {
        random.manual_seed(2);
        var search = new SchemeSearchQuantizers(Vertices(), new SchemeSearchOptions());
        using var module = new GraphModule(LeNet, quantizers: search);
        module.train();
        var mixture = module.modules().OfType<MixtureQuantizer>().First();
        var x = randn(16, 150);
        using var _ = no_grad();
        Tensor[] Batch(double epochs)
        {
            using var scope = NewDisposeScope(); // the trainer's batch scope, which frees the noise
            search.BeforeBatch(epochs, 0);
            return new[] { mixture.call(x).MoveToOuterDisposeScope(), mixture.call(x).MoveToOuterDisposeScope() };
        }
        var first = Batch(0);
        Assert.True(first[0].allclose(first[1], 0, 0), "two calls in one batch (an LSTM's steps) mix alike");
        var next = Batch(0);
        Assert.False(next[0].allclose(first[0]), "the next batch draws again");
        Assert.False(mixture.call(x).allclose(mixture.call(x)), "outside a batch every call draws");
    }

    [Fact]
    public void SchemeSearchSettlesEveryVertexOnTheBetterSchemeWithinItsBatches()
    {
        // Bright quadrant → class: learnable in a few dozen batches. Activations after ReLU are non-negative, so a
        // Binary (sign) grid carries nothing of them, and 1-bit weights lose against 4-bit ones: each vertex should choose
        // its 4-bit candidate and hold ≥ 0.6 of its probability there after 32 batches. At the old fixed rate of 0.01 the
        // logits can move 0.32 in total and no vertex can.
        random.manual_seed(21);
        var images = rand(512, 1, 28, 28).Times(0.3);
        var labels = randint(0, 4, new long[] { 512 });
        for (int i = 0; i < 512; i++)
        {
            long q = labels[i].item<long>();
            images[i, 0, TensorIndex.Slice(q / 2 * 14, q / 2 * 14 + 14), TensorIndex.Slice(q % 2 * 14, q % 2 * 14 + 14)].PlusInPlace(0.7);
        }
        using var data = new TrainingData(images, labels);
        var options = new SchemeSearchOptions
        {
            SearchBits = 4,
            WeightCandidates = new[] { QuantizationScheme.Binary, QuantizationScheme.ZoomQ },
            ActivationCandidates = new[] { QuantizationScheme.Binary, QuantizationScheme.ClipQ },
        };
        var search = new SchemeSearchQuantizers(Vertices(), options);
        var trainer = new GraphTrainer(new TrainingOptions { Epochs = 2, BatchSize = 32, LearningRate = 2e-3, Seed = 3 }, "QSS");
        using var module = trainer.CreateModule(LeNet, search);
        trainer.Train(module, data, search);

        Assert.Equal(options.LogitTravel / 32, search.SearchLearningRate(32), 12);
        var last = search.History.Where(h => h.Epoch == 2).ToList();
        Assert.Equal(search.Searched.Count(), last.Count);
        foreach (var vertex in last)
        {
            int choice = Array.IndexOf(vertex.Probabilities.ToArray(), vertex.Probabilities.Max());
            Assert.True(vertex.Probabilities[choice] >= 0.6, $"{vertex.Vertex}: {string.Join(", ", vertex.Probabilities.Select(p => p.ToString("F2")))}");
            Assert.NotEqual(QuantizationScheme.Binary, vertex.Candidates[choice].Scheme);
        }
    }

    [Fact]
    public void WeightLogitsAreThetaTimesTheirTravelOverTheActivationsHeldToOneUnitABatch()
    {
        var options = new SchemeSearchOptions { LogitTravel = 10, WeightLogitTravel = 30 };
        var search = new SchemeSearchQuantizers(Vertices(), options);
        using var module = new GraphModule(LeNet, quantizers: search);
        using (no_grad())
            foreach (string key in search.Store.Keys)
                search.Store[key].copy_(ScalarOperands.Range(search.Store[key].shape[0], ScalarType.Float32).Times(0.1f));
        search.AfterEpoch(1); // outside a trainer: the whole ratio, 3
        search.SearchLearningRate(20); // 20 batches: the weights' travel held to 20, twice the activations'
        search.AfterEpoch(2);
        search.SearchLearningRate(5); // fewer batches than the activations' travel: the weights travel as far as they do
        search.AfterEpoch(3);

        foreach (var (epoch, weightScale) in new[] { (1, 3.0), (2, 2.0), (3, 1.0) })
            foreach (var vertex in search.Searched)
            {
                var recorded = search.History.Single(h => h.Vertex == vertex.Name && h.Epoch == epoch).Probabilities.ToArray();
                double scale = vertex.IsWeight ? weightScale : 1;
                var logits = Enumerable.Range(0, recorded.Length).Select(i => 0.1 * i * scale).ToArray();
                double total = logits.Sum(Math.Exp);
                for (int i = 0; i < recorded.Length; i++) Assert.Equal(Math.Exp(logits[i]) / total, recorded[i], 5);
            }
        Assert.Throws<ArgumentOutOfRangeException>(() => new SchemeSearchOptions { WeightLogitTravel = 0 }.Validate());
    }

    [Fact]
    public void ModelWiseSearchSharesOneLogitVectorPerRole()
    {
        var search = new SchemeSearchQuantizers(Vertices(), new SchemeSearchOptions { Granularity = SearchGranularity.ModelWise });
        using var module = new GraphModule(LeNet, quantizers: search);
        Assert.Equal(new[] { "activations", "weights" }, search.Store.Keys.OrderBy(k => k));
        Assert.Equal(2, module.named_parameters().Count(p => p.name.StartsWith(GraphModule.SearchPrefix)));
    }

    [Fact]
    public void LearnedBitsQuantizeAtTheRoundedWidthAndTheStepGradientReachesTheBits()
    {
        var vertex = new QuantizerVertex("v", "conv2", true, new QuantizerSpec(QuantizationScheme.ClipQ, 3), 100, false);
        var precision = PrecisionVertex.Of(vertex, new PrecisionLearningOptions());
        Assert.Equal((1, 8), (precision.MinBits, precision.MaxBits));
        Assert.Equal(new QuantizerSpec(QuantizationScheme.ClipQ, 1), precision.SpecAt(1)); // ClipQ has a 1-bit form
        // A 2-bit-minimum scheme at 1 bit: Binary for a weight, ClipQ's one-sided grid for an activation.
        var zoom = vertex with { Spec = new(QuantizationScheme.ZoomQ, 3) };
        Assert.Equal(QuantizationScheme.Binary, PrecisionVertex.Of(zoom, new PrecisionLearningOptions()).SpecAt(1).Scheme);
        Assert.Equal(QuantizationScheme.ClipQ, PrecisionVertex.Of(zoom with { IsWeight = false }, new PrecisionLearningOptions { MinActivationBits = 1 }).SpecAt(1).Scheme);
        Assert.Equal((2, 4), (PrecisionVertex.Of(vertex with { Spec = new(QuantizationScheme.PotQ, 3) }, new PrecisionLearningOptions { MinWeightBits = 2 }) is var p ? (p.MinBits, p.MaxBits) : default));

        var bits = tensor(3.3f).requires_grad_();
        var quantizer = new LearnedBitsQuantizer("q", precision, () => bits);
        quantizer.train();
        random.manual_seed(2);
        var x = rand(64, 16).Times(2).Minus(1); // uniform: ClipQ-3 clips at 2.68·rms ≈ 1.55, so nothing is clipped
        var y = quantizer.call(x);
        using var reference = Microsoft.ML.Quantization.Schemes.SchemeMath.For(QuantizationScheme.ClipQ).Quantize(x, 3);
        Assert.Equal(0f, (y - reference).abs().max().item<float>());
        // Loss = quantization error: more bits lower it, so the gradient on b is −2·ln2·Σ(q − x)² < 0.
        (y - x).Squared().sum().backward();
        Assert.True(bits.grad!.item<float>() < 0, $"gradient {bits.grad!.item<float>()}");
    }

    [Fact]
    public void PrecisionLossPullsTheBitsDownAndRoundingMeetsTheTarget()
    {
        // Nothing fixed at 8 bits here, so a 2-bit average is reachable with 1-bit activations allowed.
        var vertices = QuantizerVertex.Of(LeNet, new HashSet<string>()).Select(v => v with { Spec = new QuantizerSpec(QuantizationScheme.ClipQ, 3, v.Spec.Granularity) }).ToList();
        var qpl = new PrecisionQuantizers(vertices, new PrecisionLearningOptions { MinActivationBits = 1 }, 2, 2);
        var before = qpl.PrecisionLoss().item<float>();
        Assert.True(before > 0);
        var optimizer = optim.Adam(qpl.Store.parameters(), 0.05);
        for (int i = 0; i < 100; i++)
        {
            optimizer.zero_grad();
            qpl.PrecisionLoss().backward();
            optimizer.step();
        }
        Assert.True(qpl.PrecisionLoss().item<float>() < before / 10);
        var result = qpl.Result();
        var report = QuantizationReport.FromGraph(AutoQuantizer.WithSpecs(LeNet, result));
        Assert.True(report.AverageWeightBits <= 2 + 1e-9, $"weights {report.AverageWeightBits}");
        Assert.True(report.AverageActivationBits <= 2 + 1e-9, $"activations {report.AverageActivationBits}");
    }

    [Fact]
    public void RoundingMeetsTheTargetsWithinATenthOfABitBelow()
    {
        // Every searched width learned at 2.4: the allocation lands each average within [target − 0.1, target].
        var vertices = SearchedAsClipQ3();
        double Plain(bool weights) => vertices.Where(v => v.IsWeight == weights).Sum(v => v.Elements * (v.IsFixed ? v.Spec.Bits : 2.0)) / vertices.Where(v => v.IsWeight == weights).Sum(v => v.Elements);
        var target = new Dictionary<bool, double> { [true] = Plain(true) + 0.6, [false] = Plain(false) + 0.6 };
        var qpl = new PrecisionQuantizers(vertices, new PrecisionLearningOptions(), target[true], target[false]);
        using (no_grad())
        {
            foreach (var v in vertices.Where(v => !v.IsFixed)) qpl.Store[v.Name].FillInPlace(2.4f);
        }
        var result = qpl.Result();
        foreach (bool weights in new[] { true, false })
        {
            var group = vertices.Where(v => v.IsWeight == weights).ToList();
            double average = group.Sum(v => v.Elements * (double)result[v.Name].Bits) / group.Sum(v => v.Elements);
            Assert.InRange(average, target[weights] - BitAllocation.Tolerance - 1e-9, target[weights] + 1e-9);
        }
    }

    [Fact]
    public void AnUnreachableTargetFailsBeforeAnySearchNamingTheClosestAverages()
    {
        // conv1 and fc3 fixed at 8 bits, activations no lower than 2: a 2-bit activation average cannot be met, a 2-bit weight average can.
        var vertices = SearchedAsClipQ3();
        var error = Assert.Throws<UnreachableBitTargetException>(() => PrecisionQuantizers.EnsureReachable(vertices, new PrecisionLearningOptions { MinActivationBits = 2 }, 2, 2));
        Assert.Equal("activation", error.Role);
        Assert.Null(error.ClosestBelow);
        Assert.True(error.ClosestAbove > 2, $"{error.ClosestAbove}");
        Assert.Contains(nameof(PrecisionLearningOptions.MinActivationBits), error.Message);
        PrecisionQuantizers.EnsureReachable(vertices, new PrecisionLearningOptions { MinActivationBits = 2 }, 2, 8);
    }

    [Fact]
    public void AttentionMovesFromTheLearnedMixToTheLowBitBranch()
    {
        var dqa = new AttentionQuantizers(Vertices(), new AttentionOptions(), epochs: 2);
        Assert.Equal(1, dqa.Temperature(0), 9);
        Assert.Equal(0.5, dqa.Temperature(1), 9);
        Assert.Equal(0, dqa.Temperature(2), 9);
        using var module = new GraphModule(LeNet, quantizers: dqa);
        dqa.AfterEpoch(1);
        var middle = dqa.History.First(h => h.Vertex == "conv2.weight").Attention;
        Assert.Equal(new[] { 1 / 6.0, 1 / 6.0, 2 / 3.0 }.Select(a => Math.Round(a, 6)), middle.Select(a => Math.Round(a, 6)));
        dqa.AfterEpoch(2);
        Assert.Equal(new[] { 0.0, 0.0, 1.0 }, dqa.History.Last(h => h.Vertex == "conv2.weight").Attention.Select(a => Math.Round(a, 9)));
        Assert.Equal(new QuantizerSpec(QuantizationScheme.ClipQ, 2, QuantizationGranularity.PerOutputChannel), dqa.Result()["conv2.weight"]);
    }
}
