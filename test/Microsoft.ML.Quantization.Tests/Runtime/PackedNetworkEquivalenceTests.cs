using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Kernels;
using Microsoft.ML.Quantization.MLNet.Data;
using Microsoft.ML.Quantization.MLNet.Text;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Runtime.Steps;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Microsoft.ML.Quantization.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Runtime;

/// <summary>
/// For every built-in graph and every scheme, the packed runtime and the fake-quantized TorchSharp forward
/// (eval mode, calibrated) predict the same labels on the whole test subset, with logits within 1e-4
/// relative; integer arithmetic is exact, so a larger gap is a bug.
/// </summary>
[Collection(TorchGlobalRandomCollection.Name)]
public class PackedNetworkEquivalenceTests
{
    private const double Tolerance = 1e-4;
    private static readonly Lazy<float[][]> Images = new(() =>
        IdxReader.ReadImages(RepoPaths.Subset("fashion-mnist", "t10k-images-idx3-ubyte.gz")).Images.Select(i => i.Select(b => b / 255f).ToArray()).ToArray());
    // Colour images drawn here (no colour data set is served): smooth random gradients with noise, so that BatchNorm and the grids see structure.
    private static readonly Lazy<float[][]> ColourImages = new(() =>
    {
        var random = new Random(11);
        return Enumerable.Range(0, 300).Select(_ =>
        {
            var (a, b, c) = (random.NextDouble(), random.NextDouble(), random.NextDouble());
            return Enumerable.Range(0, 3 * 32 * 32).Select(i => (float)(a * (i / 1024) / 2 + b * (i % 32) / 32 + c * (i / 32 % 32) / 32 + 0.2 * random.NextDouble())).ToArray();
        }).ToArray();
    });

    private static readonly Lazy<(float[][] Tokens, int Vocabulary)> Texts = new(() =>
    {
        var train = LabeledTextReader.Read(RepoPaths.Subset("spam-assassin", "train.tsv.gz"));
        var vocabulary = TextVocabulary.Build(train.Select(t => t.Text), 3000);
        var test = LabeledTextReader.Read(RepoPaths.Subset("spam-assassin", "test.tsv.gz"));
        return (test.Select(t => vocabulary.Encode(t.Text, 48).Select(id => (float)id).ToArray()).ToArray(), vocabulary.Size);
    });

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string graph in new[] { "LeNet5", "VggSmall", "ResNet20", "TextLstm", "MobileNet", "Branches", "PooledStem", "ColourStem" })
        {
            data.Add(graph, "FP32");
            foreach (var scheme in Enum.GetValues<QuantizationScheme>()) data.Add(graph, scheme.ToString());
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void PackedRuntimeMatchesTorchForward(string graphName, string scheme)
    {
        var network = AssertPackedMatchesTorch(graphName, scheme == "FP32" ? null : Options(Enum.Parse<QuantizationScheme>(scheme)));
        // Binary weights on binary activations run by XOR and popcount.
        if (scheme == nameof(QuantizationScheme.Binary) && graphName != "TextLstm")
            Assert.Contains(network.Kernels, k => k.Kernel.StartsWith("xor-popcount", StringComparison.Ordinal));
        // A grouped convolution with four outputs per group runs each group on the dense kernels; a depthwise one on the direct step.
        if (graphName == "MobileNet")
        {
            Assert.Equal(4, network.Kernels.Count(k => k.Node != "grouped" && NetworkCompiler.ComputesNode(k.Node, "grouped")));
            Assert.Contains(network.Kernels, k => k.Node == "depthwise" && k.Kernel.StartsWith("grouped direct", StringComparison.Ordinal));
        }
    }

    /// <summary>1-bit activations on ReLU outputs (ClipQ's one-sided grid, codes {0, 1}) under 1- to 3-bit weights.</summary>
    [Theory]
    [InlineData("VggSmall", QuantizationScheme.Binary, 1)]
    [InlineData("VggSmall", QuantizationScheme.ClipQ, 2)]
    [InlineData("LeNet5", QuantizationScheme.ZoomQ, 3)]
    [InlineData("ResNet20", QuantizationScheme.Binary, 1)]
    public void OneBitActivationsMatchTorchForward(string graphName, QuantizationScheme weights, int weightBits) =>
        AssertPackedMatchesTorch(graphName, new QagOptions
        {
            Weights = new QuantizerSpec(weights, weightBits, QuantizationGranularity.PerOutputChannel),
            Activations = new QuantizerSpec(QuantizationScheme.ClipQ, 1),
        });

    /// <summary>
    /// W8A8 as ONNX Runtime's int8 peer runs it: FixedQ-8's levels reach −128, which a signed byte holds, so where the machine
    /// sums full-range bytes exactly (AVX-VNNI) the middle convolutions run on the direct int8 kernel, elsewhere on int16. With
    /// 256 levels a quantizer has 255 thresholds, so far more values lie on one than at 3 bits: up to a fifth of the examples
    /// may differ, each checked as a tie (both kernels give these same integers: 99 of 1,000 VggSmall and 34 of 200 ResNet20 examples).
    /// </summary>
    [Theory]
    [InlineData("VggSmall")]
    [InlineData("ResNet20")]
    public void EightBitWeightsDownToMinus128RunOnTheInt8KernelWhereExact(string graphName)
    {
        var network = AssertPackedMatchesTorch(graphName, new QagOptions
        {
            Weights = new QuantizerSpec(QuantizationScheme.FixedQ, 8, QuantizationGranularity.PerOutputChannel),
            Activations = new QuantizerSpec(QuantizationScheme.ZoomQ, 8),
        }, tiesPerHundred: 20);
        var middle = network.Kernels.Where(k => k.Node is "conv2" or "s1b1.conv2").ToList();
        Assert.NotEmpty(middle);
        string expected = Int8Gemm.IsExact(255, sbyte.MinValue, sbyte.MaxValue) ? "int8 direct (8-bit slots)" : "int16";
        Assert.All(middle, k => Assert.Equal(expected, k.Kernel));
    }

    /// <summary>
    /// Trains the graph (quantized by <paramref name="options"/>, FP32 where null), round-trips its export and asserts that
    /// the packed runtime predicts as the torch forward does (see the class summary); returns the packed network.
    /// </summary>
    /// <param name="tiesPerHundred">The share of examples that may differ through a tie, each checked as one (default: 5, or 10 for ResQ; see below).</param>
    private static PackedNetwork AssertPackedMatchesTorch(string graphName, QagOptions? options, int? tiesPerHundred = null)
    {
        var (graph, inputs) = Setup(graphName);
        if (options is not null) graph = Qag.Prepare(graph, options);
        using var scope = NewDisposeScope();
        var module = Trained(graph, inputs);
        var network = new PackedNetwork(RoundTrip(ModelExporter.Export(module)));
        string scheme = options?.Activations.Scheme.ToString() ?? "FP32";

        var expected = TorchLogits(module, inputs);
        var logits = new float[network.OutputLength];
        int beyond = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            network.Score(inputs[i], logits);
            float magnitude = Math.Max(1e-6f, expected[i].Max(Math.Abs));
            if (logits.Zip(expected[i]).All(p => Math.Abs(p.First - p.Second) <= Tolerance * magnitude))
            {
                Assert.Equal(Logits.ArgMax(expected[i]), Logits.ArgMax(logits));
                continue;
            }
            // Beyond the tolerance only through a threshold tie (checked next); the prediction may then differ too.
            beyond++;
            AssertExplainedByThresholdTie(module, network, inputs[i], $"{graphName}/{scheme} example {i}: packed [{string.Join(", ", logits)}] vs torch [{string.Join(", ", expected[i])}]");
        }
        // Ties are rare: a few in a hundred at most (one-sided ClipQ puts all its levels where a ReLU's outputs are, so
        // more of them lie near a threshold), up to one in ten where ResQ's activations, which have no integer form,
        // send every layer down the float path (each such example was checked above to be a tie).
        int allowed = inputs.Length * (tiesPerHundred ?? (scheme == nameof(QuantizationScheme.ResQ) ? 10 : 5)) / 100;
        Assert.True(beyond <= allowed, $"{beyond} of {inputs.Length} examples differ beyond {Tolerance} relative.");
        return network;
    }

    /// <summary>
    /// Float rounding differs between torch's convolution and the exact integer one, so a value that lies on a
    /// quantizer threshold may round to the neighbouring code, and everything downstream legitimately follows.
    /// Such an example must diverge first at an activation quantizer, and only at elements whose input lies
    /// within 1/1000 of a step of a threshold; any other divergence is a bug. (Torch's rounding also depends
    /// on the batch, so the example is first re-run alone.)
    /// </summary>
    private static void AssertExplainedByThresholdTie(GraphModule module, PackedNetwork network, float[] input, string context)
    {
        var packed = network.Trace(input);
        Dictionary<string, float[]> torchTrace;
        using (var _ = no_grad())
        using (var scope = NewDisposeScope())
        {
            torchTrace = module.Run(Batch(module.Graph, new[] { input })).ToDictionary(kv => kv.Key, kv => kv.Value.contiguous().to(float32).data<float>().ToArray());
        }
        // Torch's own float rounding depends on the batch it runs in: scored alone, it may agree after all.
        var torchAlone = torchTrace[module.Graph.Output];
        float outputScale = Math.Max(1e-6f, torchAlone.Max(Math.Abs));
        if (packed[module.Graph.Output].Zip(torchAlone).All(p => Math.Abs(p.First - p.Second) <= Tolerance * outputScale)) return;
        foreach (var node in module.Graph.Nodes)
        {
            if (!packed.TryGetValue(node.Name, out var ours)) continue;
            var theirs = torchTrace[node.Name];
            float scale = Math.Max(1e-6f, theirs.Max(Math.Abs));
            var differing = Enumerable.Range(0, ours.Length).Where(j => Math.Abs(ours[j] - theirs[j]) > Tolerance * scale).ToList();
            if (differing.Count == 0) continue;
            if (node.Kind == NodeKind.Lstm && module.Graph[node.Inputs[0]].Kind == NodeKind.Quantize)
                return; // the recurrent state quantizer (and, folded into a token table, the input's) is internal to the LSTM: a tie there is not traceable from outside
            Assert.True(node.Kind == NodeKind.Quantize, $"{context}: first divergence at {node.Kind} '{node.Name}', not at a quantizer.");
            var grid = network.Model.Grid(Microsoft.ML.Quantization.Serialization.StateNames.QuantizerPrefix(node))!;
            var before = torchTrace[node.Inputs[0]];
            foreach (int j in differing)
            {
                float y = before[j] / grid.Scales[0];
                float distance = grid.Thresholds.Min(t => Math.Abs(y - t));
                Assert.True(distance <= 1e-3f, $"{context}: quantizer '{node.Name}' element {j} differs with its input {distance} steps from a threshold.");
            }
            return;
        }
        Assert.Fail($"{context}: the logits differ but no node output does.");
    }

    /// <summary>
    /// Callers that each ask for two threads at once share one set of layer helpers: whoever finds them busy runs its
    /// parts itself, and every caller still gets the one-thread logits.
    /// </summary>
    [Fact]
    public void ConcurrentCallersSharingLayerThreadsScoreAsOneThread()
    {
        var (network, inputs) = Packed("VggSmall", nameof(QuantizationScheme.ClipQ));
        var expected = inputs.Take(40).Select(x => { var y = new float[network.OutputLength]; network.Score(x, y); return y; }).ToArray();
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, caller =>
        {
            var logits = new float[network.OutputLength];
            for (int round = 0; round < 5; round++)
                for (int i = 0; i < expected.Length; i++)
                {
                    network.Score(inputs[i], logits, threads: 2);
                    Assert.Equal(expected[i], logits);
                }
        });
    }

    [Fact]
    public void TwoThreadsPerExampleScoreBitForBitAsOne()
    {
        var (network, inputs) = Packed("VggSmall", nameof(QuantizationScheme.ClipQ));
        var one = new float[network.OutputLength];
        var two = new float[network.OutputLength];
        foreach (var input in inputs.Take(50))
        {
            network.Score(input, one, threads: 1);
            network.Score(input, two, threads: 2);
            Assert.Equal(one, two);
        }
    }

    public static TheoryData<string, QuantizationScheme, int> FusionCases() => new()
    {
        { "VggSmall", QuantizationScheme.ClipQ, 2 }, { "VggSmall", QuantizationScheme.Ternary, 2 }, { "VggSmall", QuantizationScheme.Quaternary, 2 }, { "VggSmall", QuantizationScheme.PotQ, 3 },
        { "VggSmall", QuantizationScheme.ClipQ, 4 }, { "ResNet20", QuantizationScheme.ClipQ, 2 }, { "LeNet5", QuantizationScheme.ClipQ, 3 },
        { "VggSmall", QuantizationScheme.Binary, 1 }, { "ResNet20", QuantizationScheme.Binary, 1 }, { "PooledStem", QuantizationScheme.ClipQ, 2 },
        { "PooledStem", QuantizationScheme.ZoomQ, 4 }, { "ColourStem", QuantizationScheme.ClipQ, 2 },
    };

    /// <summary>
    /// Convolutions that absorb ReLU, max pool and the next quantizer into their epilogue give exactly the logits of the
    /// separate steps, on one thread and on two (threads then share the layer by output blocks).
    /// </summary>
    [Theory]
    [MemberData(nameof(FusionCases))]
    public void FusedEpiloguesScoreBitForBitAsSeparateSteps(string graphName, QuantizationScheme scheme, int bits)
    {
        var (graph, inputs) = Setup(graphName);
        graph = Qag.Prepare(graph, new QagOptions
        {
            Weights = new QuantizerSpec(scheme, bits, QuantizationGranularity.PerOutputChannel),
            Activations = new QuantizerSpec(scheme, bits),
        });
        var (fused, separate) = AssertFusedScoresAsSeparate(graphName, graph, inputs);
        var channelsLast = fused.NodeSlots.Where(n => n.Value.Layout == SlotLayout.ChannelsLast).Select(n => n.Key).ToList();
        if (graphName == "PooledStem")
        {
            // The stem's ReLU goes into the max pool, which writes channels-last for the block's quantizer and the add that the
            // block's second convolution absorbs where the block runs on direct convolutions (ZoomQ's 4-bit grid does not).
            Assert.Equal(new[] { "stem", "pool" }, fused.Steps.Select(s => s.Name).Take(3).Skip(1));
            Assert.Equal(scheme == QuantizationScheme.ClipQ, channelsLast.Contains("pool"));
        }
        else if (graphName == "ResNet20")
        {
            // A residual block's add and ReLU go into a convolution's epilogue with the next block's quantizer (the last block's, before
            // the pooling, stay apart), the block's output kept channels-last for the next block's add where that is fused too.
            Assert.Equal(new[] { "s3b3.add", "s3b3.relu2" }, fused.Steps.Select(s => s.Name).Where(n => n.EndsWith(".add", StringComparison.Ordinal) || n.Contains(".relu", StringComparison.Ordinal)));
            Assert.Contains("s1b1.relu2", channelsLast);
            Assert.DoesNotContain("s3b2.relu2", channelsLast); // read by the last block's add, which no epilogue takes
            // A projection's quantizer writes only the pixels its 1×1 stride-2 convolution reads.
            foreach (var (name, size) in new[] { ("s2b1.proj.q0", 14), ("s3b1.proj.q0", 7) })
                Assert.True(fused.NodeSlots[name] is { Sampling: 2 } slot && slot.Shape[1] == size && slot.Shape[2] == size, $"{name} is not sampled");
        }
        else return;
        // Every value both networks keep, channels-last ones included, is the same.
        foreach (var input in inputs.Take(3))
        {
            var (mine, theirs) = (fused.Trace(input), separate.Trace(input));
            foreach (var node in mine.Keys.Intersect(theirs.Keys)) Assert.Equal(theirs[node], mine[node]);
        }
    }

    /// <summary>
    /// A binary (XOR/popcount) convolution with fewer outputs than a 16-output block, on 1-bit inputs with a padded border
    /// (LeNet5's first layer at 1 bit): its fused epilogue wrote no output at all (fixed 2026-12-04).
    /// </summary>
    [Fact]
    public void ABinaryConvolutionWithFewOutputsFusesItsEpilogueExactly()
    {
        var options = new QagOptions
        {
            Weights = new QuantizerSpec(QuantizationScheme.Binary, 1, QuantizationGranularity.PerOutputChannel),
            Activations = new QuantizerSpec(QuantizationScheme.ClipQ, 1),
            KeepFirstAndLastAt8Bits = false,
        };
        var network = AssertPackedMatchesTorch("LeNet5", options);
        Assert.Contains(network.Kernels, k => k.Kernel.StartsWith("xor-popcount", StringComparison.Ordinal));
        var (graph, inputs) = Setup("LeNet5");
        AssertFusedScoresAsSeparate("LeNet5", Qag.Prepare(graph, options), inputs);
    }

    /// <summary>
    /// A quantized embedding before the LSTM folds, with its quantizer and the LSTM's input product, into a table of input gates per
    /// token: the same logits as the three steps run for each sequence, alone and in batches, and an id outside the vocabulary is
    /// still refused.
    /// </summary>
    [Theory]
    [InlineData(nameof(QuantizationScheme.ClipQ))]
    [InlineData(nameof(QuantizationScheme.Binary))]
    public void AnEmbeddingBeforeAnLstmFoldsIntoATokenTableExactly(string scheme)
    {
        var (graph, inputs) = Setup("TextLstm");
        var (fused, separate) = AssertFusedScoresAsSeparate("TextLstm", Qag.Prepare(graph, Options(Enum.Parse<QuantizationScheme>(scheme))), inputs);
        Assert.Contains(fused.Kernels, k => k.Node == "lstm" && k.Kernel.StartsWith("token gate table / ", StringComparison.Ordinal));
        Assert.DoesNotContain(separate.Kernels, k => k.Kernel.Contains("token", StringComparison.Ordinal));
        var batch = inputs.Take(21).ToArray();
        var together = new float[batch.Length * fused.OutputLength];
        var expected = new float[batch.Length * separate.OutputLength];
        fused.ScoreBatch(batch.SelectMany(x => x).ToArray(), batch.Length, together, threads: 2);
        separate.ScoreBatch(batch.SelectMany(x => x).ToArray(), batch.Length, expected, threads: 2);
        Assert.Equal(expected, together);
        var outside = inputs[0].ToArray();
        outside[3] = Texts.Value.Vocabulary;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => fused.Score(outside, new float[fused.OutputLength]));
        Assert.Contains("'embedding' has ids 0 to", error.Message);
    }

    /// <summary>
    /// The token table stops at <see cref="TokenGates.MaxBytes"/>: a vocabulary whose table fills it exactly still folds, one
    /// token more and the LSTM multiplies each sequence again; both score as the unfolded steps do.
    /// </summary>
    [Fact]
    public void TheTokenTableStopsAtItsMemoryLimit()
    {
        const int hidden = 128;
        int atLimit = (int)(TokenGates.MaxBytes / (4 * hidden * sizeof(float)));
        var inputs = Texts.Value.Tokens.Take(40).ToArray();
        foreach (var (vocabulary, folds) in new[] { (atLimit, true), (atLimit + 1, false) })
        {
            var graph = Qag.Prepare(NetworkGraphs.TextLstm(vocabulary, 48, 8, hidden), Options(QuantizationScheme.ClipQ));
            using var scope = NewDisposeScope();
            var model = ModelExporter.Export(Trained(graph, inputs));
            var network = new PackedNetwork(model);
            Assert.Equal(folds, network.Kernels.Any(k => k.Kernel.StartsWith("token gate table", StringComparison.Ordinal)));
            AssertScoresAsSeparate(network, new PackedNetwork(model, fuseEpilogues: false), inputs);
        }
    }

    /// <summary>Fused and separate epilogues give the same logits on one thread and on two; returns both networks.</summary>
    private static (PackedNetwork Fused, PackedNetwork Separate) AssertFusedScoresAsSeparate(string graphName, NetworkGraph graph, float[][] inputs)
    {
        using var scope = NewDisposeScope();
        var model = ModelExporter.Export(Trained(graph, inputs));
        var fused = new PackedNetwork(model);
        var separate = new PackedNetwork(model, fuseEpilogues: false);
        Assert.True(fused.Steps.Count < separate.Steps.Count, $"{graphName}: nothing was fused ({fused.Steps.Count} steps).");
        AssertScoresAsSeparate(fused, separate, inputs);
        return (fused, separate);
    }

    /// <summary><paramref name="network"/> gives <paramref name="separate"/>'s logits bit for bit on the first 100 inputs, on one thread and on two.</summary>
    private static void AssertScoresAsSeparate(PackedNetwork network, PackedNetwork separate, float[][] inputs)
    {
        var expected = new float[separate.OutputLength];
        var actual = new float[network.OutputLength];
        foreach (var input in inputs.Take(100))
        {
            separate.Score(input, expected);
            network.Score(input, actual);
            Assert.Equal(expected, actual);
            network.Score(input, actual, threads: 2);
            Assert.Equal(expected, actual);
        }
    }

    /// <summary>
    /// Scoring a batch (the LSTM step by step over a group of sequences, one recurrent product for all) gives each example's
    /// logits as scoring it alone: bit for bit where the recurrent product is integer, within float rounding for FP32.
    /// </summary>
    [Theory]
    [InlineData("TextLstm", "FP32")]
    [InlineData("TextLstm", "ClipQ")]
    [InlineData("TextLstm", "Binary")]
    [InlineData("TextLstm", "ZoomQ")]
    [InlineData("VggSmall", "ClipQ")]
    public void BatchScoringMatchesOneByOne(string graphName, string scheme)
    {
        var (network, inputs) = Packed(graphName, scheme);
        var batch = inputs.Take(37).ToArray();
        var together = new float[batch.Length * network.OutputLength];
        network.ScoreBatch(batch.SelectMany(x => x).ToArray(), batch.Length, together, threads: 2);
        var alone = new float[network.OutputLength];
        for (int i = 0; i < batch.Length; i++)
        {
            network.Score(batch[i], alone);
            var row = together.AsSpan(i * network.OutputLength, network.OutputLength).ToArray();
            if (scheme != "FP32") Assert.Equal(alone, row);
            else Assert.All(alone.Zip(row), p => Assert.True(Math.Abs(p.First - p.Second) <= 1e-5f * Math.Max(1f, Math.Abs(p.First)), $"example {i}: {p.First} vs {p.Second}"));
        }
    }

    /// <summary>The packed network of a seeded, calibrated module of the graph (quantized with <see cref="Options"/> unless "FP32"), and its inputs.</summary>
    private static (PackedNetwork Network, float[][] Inputs) Packed(string graphName, string scheme)
    {
        var (graph, inputs) = Setup(graphName);
        if (scheme != "FP32") graph = Qag.Prepare(graph, Options(Enum.Parse<QuantizationScheme>(scheme)));
        using var scope = NewDisposeScope();
        return (new PackedNetwork(ModelExporter.Export(Trained(graph, inputs))), inputs);
    }

    /// <summary>Quantizers of the scheme at its natural low bitwidth on weights and activations; first and last layers at 8 bits.</summary>
    private static QagOptions Options(QuantizationScheme scheme)
    {
        int bits = scheme switch { QuantizationScheme.Binary => 1, QuantizationScheme.Ternary or QuantizationScheme.Quaternary => 2, _ => 3 };
        return new QagOptions
        {
            Weights = new QuantizerSpec(scheme, bits, QuantizationGranularity.PerOutputChannel),
            Activations = new QuantizerSpec(scheme, bits),
        };
    }

    private static (NetworkGraph Graph, float[][] Inputs) Setup(string name) => name switch
    {
        "LeNet5" => (NetworkGraphs.LeNet5(), Images.Value),
        "VggSmall" => (NetworkGraphs.VggSmall(), Images.Value),
        "ResNet20" => (NetworkGraphs.ResNet20(1, 28), Images.Value[..200]),
        "MobileNet" => (TestGraphs.MobileNet(), Images.Value[..300]),
        "Branches" => (TestGraphs.Branches(), Images.Value[..300]),
        "PooledStem" => (TestGraphs.PooledStem(), Images.Value[..300]),
        "ColourStem" => (TestGraphs.ColourStem(), ColourImages.Value),
        _ => (NetworkGraphs.TextLstm(Texts.Value.Vocabulary, 48, 32, 32), Texts.Value.Tokens),
    };

    /// <summary>A seeded module with BatchNorm statistics gathered from the data and calibrated quantizers.</summary>
    private static GraphModule Trained(NetworkGraph graph, float[][] inputs)
    {
        random.manual_seed(7);
        var module = new GraphModule(graph);
        var batch = Batch(graph, inputs.Take(256).ToArray());
        using (var _ = no_grad())
        {
            module.train();
            for (int i = 0; i < 3; i++) module.call(batch);
        }
        module.Calibrate(batch);
        module.eval();
        return module;
    }

    private static float[][] TorchLogits(GraphModule module, float[][] inputs)
    {
        using var _ = no_grad();
        var result = new List<float[]>();
        foreach (var chunk in inputs.Chunk(128))
        {
            using var scope = NewDisposeScope();
            var logits = module.call(Batch(module.Graph, chunk)).contiguous();
            var flat = logits.data<float>().ToArray();
            int width = (int)logits.shape[1];
            for (int i = 0; i < chunk.Length; i++) result.Add(flat[(i * width)..((i + 1) * width)]);
        }
        return result.ToArray();
    }

    private static Tensor Batch(NetworkGraph graph, float[][] inputs)
    {
        var shape = graph.InputShape.Select(d => (long)d).Prepend(inputs.Length).ToArray();
        var flat = tensor(inputs.SelectMany(x => x).ToArray()).reshape(shape);
        return graph.Nodes[0].Kind == NodeKind.Embedding ? flat.to(int64) : flat;
    }

    private static ExportedModel RoundTrip(ExportedModel model)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) ExportedModelFormat.Write(writer, model);
        stream.Position = 0;
        using var reader = new BinaryReader(stream);
        return ExportedModelFormat.Read(reader);
    }
}
