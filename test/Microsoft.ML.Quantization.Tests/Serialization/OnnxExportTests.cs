using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Serialization.Onnx;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Microsoft.ML.Quantization.Tests.Serialization;

/// <summary>
/// The ONNX export of every built-in FP32 graph runs in ONNX Runtime and gives the packed runtime's logits; quantized graphs
/// export in QDQ form and ONNX Runtime gives the packed runtime's labels.
/// </summary>
public class OnnxExportTests
{
    public static TheoryData<string> Graphs() => new() { "LeNet5", "VggSmall", "ResNet20", "TextLstm", "BCPReLU", "MobileNet", "Branches" };

    [Theory]
    [MemberData(nameof(Graphs))]
    public void OnnxRuntimeMatchesPackedRuntime(string name)
    {
        var graph = name switch
        {
            "LeNet5" => NetworkGraphs.LeNet5(),
            "VggSmall" => NetworkGraphs.VggSmall(),
            "ResNet20" => NetworkGraphs.ResNet20(1, 28),
            "BCPReLU" => NetworkGraphs.VggSmall(activation: NodeKind.BCPReLU),
            "MobileNet" => TestGraphs.MobileNet(),
            "Branches" => TestGraphs.Branches(),
            _ => NetworkGraphs.TextLstm(500, 24, 16, 16, dropout: 0.5),
        };
        bool tokens = graph.Nodes[0].Kind == NodeKind.Embedding;
        var random = new Random(3);
        int length = graph.InputShape.Aggregate(1, (a, b) => a * b), count = 16;
        var inputs = Enumerable.Range(0, count * length).Select(_ => tokens ? random.Next(500) : (float)random.NextDouble()).ToArray();

        using var scope = NewDisposeScope();
        random_seed(graph);
        var module = new GraphModule(graph);
        var batch = tensor(inputs).reshape(graph.InputShape.Select(d => (long)d).Prepend(count).ToArray());
        using (var _ = no_grad())
        {
            module.train();
            module.call(tokens ? batch.to(int64) : batch); // BatchNorm statistics that are not the identity
        }
        module.eval();
        var exported = ModelExporter.Export(module);
        var network = new PackedNetwork(exported);

        using var session = new InferenceSession(OnnxExporter.Export(exported));
        var shape = graph.InputShape.Prepend(count).ToArray();
        var value = tokens
            ? NamedOnnxValue.CreateFromTensor("input", new DenseTensor<long>(inputs.Select(v => (long)v).ToArray(), shape))
            : NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(inputs, shape));
        using var results = session.Run(new[] { value });
        var onnx = results.First().AsTensor<float>().ToArray();

        var logits = new float[network.OutputLength];
        for (int i = 0; i < count; i++)
        {
            network.Score(inputs.AsSpan(i * length, length), logits);
            var expected = onnx.AsSpan(i * logits.Length, logits.Length).ToArray();
            float scale = Math.Max(1e-6f, expected.Max(Math.Abs));
            for (int j = 0; j < logits.Length; j++)
                Assert.True(Math.Abs(logits[j] - expected[j]) <= 1e-4f * scale, $"{name} example {i} logit {j}: packed {logits[j]}, ONNX Runtime {expected[j]}");
        }
    }

    public class Image
    {
        [Microsoft.ML.Data.VectorType(784)] public float[] Pixels { get; set; } = Array.Empty<float>();
        public string Label { get; set; } = "";
    }

    public class Prediction
    {
        public float[] Score { get; set; } = Array.Empty<float>();
    }

    [Fact]
    public void TrainedImageClassifierExportsWithItsPixelScale()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.TakeRows(ml.Data.LoadFromIdxImages(Infrastructure.RepoPaths.Subset("fashion-mnist", "t10k-images-idx3-ubyte.gz"),
            Infrastructure.RepoPaths.Subset("fashion-mnist", "t10k-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames), 200);
        var graph = new NetworkGraphBuilder(1, 28, 28).Flatten("flatten").Linear("fc1", 32).ReLU("relu").Linear("fc2", 10).Build();
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.ImageClassifier(new ImageClassifierOptions { FeatureColumnName = "Pixels", Graph = graph, Epochs = 1 }))
            .Fit(data);
        using var onnx = new MemoryStream();
        model.LastTransformer.ExportToOnnx(onnx);
        using var session = new InferenceSession(onnx.ToArray());
        var engine = ml.Model.CreatePredictionEngine<Image, Prediction>(model);
        foreach (var image in ml.Data.CreateEnumerable<Image>(data, reuseRowObject: false).Take(5))
        {
            using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(image.Pixels, new[] { 1, 1, 28, 28 })) });
            var logits = results.First().AsTensor<float>().ToArray();
            var exp = logits.Select(l => Math.Exp(l - logits.Max())).ToArray();
            var expected = engine.Predict(image).Score;
            for (int j = 0; j < expected.Length; j++) Assert.Equal(expected[j], exp[j] / exp.Sum(), 4);
        }
    }

    /// <summary>
    /// Weight and activation specs, with the edges (first and last layers) kept at 8 bits or not, and whether ONNX Runtime's
    /// default graph optimisations (its QDQ fusion into integer kernels) keep the labels too.
    /// </summary>
    public static TheoryData<string, string, bool, bool> QuantizedGraphs() => new()
    {
        { "VggSmall", "W8A8", false, true },  // FixedQ-8 weights (int8, per channel), one-sided ClipQ-8 activations (uint8): ONNX Runtime's int8 peer
        { "VggSmall", "W2A2", true, true },   // ClipQ-2 weights and activations, ZoomQ-8 edges
        { "ResNet20", "W2A2", false, true },  // residual adds: two-sided ClipQ activations, bin centres
        // ONNX Runtime's optimised sessions give other labels on LeNet5 (397, 365 and 376 of 400 kept on 2026-12-04). The likely
        // cause, not yet confirmed: its QDQ fusion rounds LeNet5's biases to int32 at the input step times the weight step, coarse
        // at 1–4 bits (VggSmall and ResNet20 have no biases). Unoptimised, ONNX Runtime runs the graph as written and all 400 agree.
        { "LeNet5", "W3A3", true, false },    // QAG's defaults: PotQ-3 weights (an int8 lattice), ClipQ-3 activations
        { "LeNet5", "ResQ", false, false },   // ResQ-3 weights export as floats; ZoomQ-4 activations
        { "LeNet5", "Binary", true, false },  // Binary weights, ClipQ-1 activations
        { "LeNet5", "Binary", false, false }, // the same on the first and last layers too: a binary convolution of 6 outputs
        { "LeNet5", "PotQ", false, true },    // PotQ-3 activations: non-uniform levels, exported as their threshold staircase
        { "VggSmall", "ResQ-A", true, true }, // ResQ-2 weights (floats) and activations (a staircase)
    };

    [Theory]
    [MemberData(nameof(QuantizedGraphs))]
    public void QuantizedNetworksExportInQdqFormAndOnnxRuntimeGivesThePackedRuntimesLabels(string name, string bits, bool edgesAt8, bool optimized)
    {
        var (weights, activations) = bits switch
        {
            "W8A8" => (new QuantizerSpec(QuantizationScheme.FixedQ, 8, QuantizationGranularity.PerOutputChannel), new QuantizerSpec(QuantizationScheme.ClipQ, 8)),
            "W2A2" => (new QuantizerSpec(QuantizationScheme.ClipQ, 2, QuantizationGranularity.PerOutputChannel), new QuantizerSpec(QuantizationScheme.ClipQ, 2)),
            "W3A3" => (new QuantizerSpec(QuantizationScheme.PotQ, 3, QuantizationGranularity.PerOutputChannel), new QuantizerSpec(QuantizationScheme.ClipQ, 3)),
            "ResQ" => (new QuantizerSpec(QuantizationScheme.ResQ, 3), new QuantizerSpec(QuantizationScheme.ZoomQ, 4)),
            "PotQ" => (new QuantizerSpec(QuantizationScheme.Ternary, 2, QuantizationGranularity.PerOutputChannel), new QuantizerSpec(QuantizationScheme.PotQ, 3)),
            "ResQ-A" => (new QuantizerSpec(QuantizationScheme.ResQ, 2), new QuantizerSpec(QuantizationScheme.ResQ, 2)),
            _ => (new QuantizerSpec(QuantizationScheme.Binary, 1, QuantizationGranularity.PerOutputChannel), new QuantizerSpec(QuantizationScheme.ClipQ, 1)),
        };
        var fp32 = name switch { "LeNet5" => NetworkGraphs.LeNet5(), "VggSmall" => NetworkGraphs.VggSmall(), _ => NetworkGraphs.ResNet20(1, 28) };
        var graph = Qag.Prepare(fp32, new QagOptions { Weights = weights, Activations = activations, KeepFirstAndLastAt8Bits = edgesAt8 });
        var (inputs, count) = Images("t10k", 400);
        // Trained FP32 weights, quantized as they are: random weights would leave the labels on near-ties that any float difference flips.
        var exported = CalibratedOn(graph, inputs, count, TrainedFp32(fp32));
        var network = new PackedNetwork(exported);

        byte[] onnxModel = OnnxExporter.Export(exported);
        // Weights of at most 16 integer levels are stored as int4 or uint4, which takes opset 21; 8-bit ones stay int8 at opset 17.
        var proto = Microsoft.ML.Quantization.Serialization.Onnx.Proto.ModelProto.Parser.ParseFrom(onnxModel);
        bool fourBit = bits != "W8A8" && bits != "ResQ-A" && bits != "ResQ";
        Assert.Equal(fourBit ? 21 : 17, proto.OpsetImport.Single().Version);
        Assert.Equal(fourBit, proto.Graph.Initializer.Any(t => t.DataType is 21 or 22));
        var expected = new int[count];
        var logits = new float[network.OutputLength];
        for (int i = 0; i < count; i++)
        {
            network.Score(inputs.AsSpan(i * 784, 784), logits);
            expected[i] = Logits.ArgMax(logits);
        }
        foreach (var level in optimized ? new[] { GraphOptimizationLevel.ORT_DISABLE_ALL, GraphOptimizationLevel.ORT_ENABLE_ALL } : new[] { GraphOptimizationLevel.ORT_DISABLE_ALL })
        {
            using var options = new SessionOptions { GraphOptimizationLevel = level };
            using var session = new InferenceSession(onnxModel, options);
            using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(inputs, new[] { count, 1, 28, 28 })) });
            var onnx = results.First().AsTensor<float>().ToArray();
            int agree = Enumerable.Range(0, count).Count(i => Logits.ArgMax(onnx.AsSpan(i * logits.Length, logits.Length)) == expected[i]);
            Assert.True(agree >= 0.995 * count, $"{name} {bits} ({level}): ONNX Runtime gives the packed runtime's label on {agree} of {count} examples");
        }
    }

    [Fact]
    public void AnLstmThatQuantizesItsStateIsRefusedByName()
    {
        using var scope = NewDisposeScope();
        var text = Qag.Prepare(NetworkGraphs.TextLstm(50, 8, 8, 8, dropout: 0));
        var module = new GraphModule(text);
        module.Calibrate(randint(0, 50, new long[] { 16, 8 }));
        var error = Assert.Throws<NotSupportedException>(() => OnnxExporter.Export(ModelExporter.Export(module)));
        Assert.Contains("recurrent state", error.Message);
    }

    /// <summary>A module of <paramref name="graph"/> (with <paramref name="weights"/> if given) with BatchNorm statistics and activation grids from the images, exported.</summary>
    private static ExportedModel CalibratedOn(NetworkGraph graph, float[] inputs, int count, IReadOnlyDictionary<string, Tensor>? weights = null)
    {
        using var scope = NewDisposeScope();
        random_seed(graph);
        var module = new GraphModule(graph);
        if (weights is not null) ModuleState.Load(module, weights);
        var batch = tensor(inputs).reshape(count, 1, 28, 28);
        module.ReestimateBatchNorm(batch);
        module.Calibrate(batch);
        return ModelExporter.Export(module);
    }

    /// <summary>The FP32 graph trained for one epoch on 2,000 training images of the committed subset, as a state snapshot.</summary>
    private static Dictionary<string, Tensor> TrainedFp32(NetworkGraph fp32)
    {
        var (pixels, count) = Images("train", 2000, out var labels);
        using var data = new TrainingData(tensor(pixels).reshape(count, 1, 28, 28), tensor(labels));
        var trainer = new GraphTrainer(new TrainingOptions { Epochs = 1, BatchSize = 64, LearningRate = 2e-3, Seed = 1 }, "FP32 training");
        using var module = trainer.CreateModule(fp32);
        trainer.Train(module, data);
        return ModuleState.Snapshot(module);
    }

    private static (float[] Pixels, int Count) Images(string set, int count) => Images(set, count, out _);

    /// <summary>The first <paramref name="count"/> images of the committed subset's training or test ("t10k") set, pixels in [0, 1].</summary>
    private static (float[] Pixels, int Count) Images(string set, int count, out long[] labels)
    {
        var ml = new MLContext();
        var data = ml.Data.TakeRows(ml.Data.LoadFromIdxImages(Infrastructure.RepoPaths.Subset("fashion-mnist", $"{set}-images-idx3-ubyte.gz"),
            Infrastructure.RepoPaths.Subset("fashion-mnist", $"{set}-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames), count);
        var images = ml.Data.CreateEnumerable<Image>(data, reuseRowObject: false).ToList();
        labels = images.Select(i => (long)DatasetCatalog.FashionMnistClassNames.ToList().IndexOf(i.Label)).ToArray();
        return (images.SelectMany(i => i.Pixels.Select(p => p / 255f)).ToArray(), images.Count);
    }


    private static void random_seed(NetworkGraph graph) => random.manual_seed(graph.Nodes.Count);
}
