using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Serialization.Onnx;
using Microsoft.ML.Quantization.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Serialization;

/// <summary>The ONNX export of every built-in FP32 graph runs in ONNX Runtime and gives the packed runtime's logits.</summary>
public class OnnxExportTests
{
    public static TheoryData<string> Graphs() => new() { "LeNet5", "VggSmall", "ResNet20", "TextLstm", "BCPReLU" };

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

    [Fact]
    public void QuantizedGraphIsRefused()
    {
        using var scope = NewDisposeScope();
        var module = new GraphModule(Qag.Prepare(NetworkGraphs.LeNet5()));
        module.Calibrate(rand(4, 1, 28, 28));
        Assert.Throws<NotSupportedException>(() => OnnxExporter.Export(ModelExporter.Export(module)));
    }

    private static void random_seed(NetworkGraph graph) => random.manual_seed(graph.Nodes.Count);
}
