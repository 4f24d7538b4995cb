using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Serialization.Onnx;
using Microsoft.ML.Quantization.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Serialization;

/// <summary>
/// ONNX import: every built-in exports and imports back with the same logits; hand-built graphs written the way PyTorch
/// writes them import and give ONNX Runtime's logits.
/// </summary>
public class OnnxImportTests
{
    public static TheoryData<string> BuiltIns() => new() { "LeNet5", "VggSmall", "ResNet20", "TextLstm" };

    [Theory]
    [MemberData(nameof(BuiltIns))]
    public void EveryBuiltInExportsAndImportsBackWithTheSameLogits(string name)
    {
        var graph = name switch
        {
            "LeNet5" => NetworkGraphs.LeNet5(),
            "VggSmall" => NetworkGraphs.VggSmall(),
            "ResNet20" => NetworkGraphs.ResNet20(1, 28),
            _ => NetworkGraphs.TextLstm(300, 12, 8, 10, dropout: 0.5),
        };
        bool tokens = graph.Nodes[0].Kind == NodeKind.Embedding;
        var random = new Random(5);
        int length = graph.InputShape.Aggregate(1, (a, b) => a * b), count = 8;
        var inputs = Enumerable.Range(0, count * length).Select(_ => tokens ? random.Next(300) : random.Next(256)).Select(v => (float)v).ToArray();
        var original = Trained(graph, inputs, count, tokens);

        var imported = OnnxImporter.Import(OnnxExporter.Export(original, tokens ? 1f : 1f / 255), "input", "logits");

        Assert.Equal(tokens, imported.TokenIds);
        Assert.Equal(tokens ? 1f : 1f / 255, imported.InputScale);
        Assert.Equal(graph.InputShape, imported.Model.Graph.InputShape);
        Assert.Equal(graph.Nodes.Where(n => n.Kind != NodeKind.Dropout).Select(n => n.Kind), imported.Model.Graph.Nodes.Select(n => n.Kind));
        var before = new PackedNetwork(original);
        var after = new PackedNetwork(imported.Model);
        var expected = new float[before.OutputLength];
        var actual = new float[after.OutputLength];
        for (int i = 0; i < count; i++)
        {
            var example = inputs.AsSpan(i * length, length).ToArray();
            before.Score(tokens ? example : example.Select(v => v / 255).ToArray(), expected);
            after.Score(tokens ? example : example.Select(v => v * imported.InputScale).ToArray(), actual);
            for (int j = 0; j < expected.Length; j++) Assert.True(Math.Abs(expected[j] - actual[j]) <= 1e-5f, $"{name} example {i} logit {j}: {expected[j]} before, {actual[j]} after");
        }
    }

    public static TheoryData<string> HandBuilt() => new() { "ConvNet, opset 11", "MLP, opset 13", "Residual, opset 17", "LSTM, opset 14", "MobileNet block, opset 13", "Branches, opset 17" };

    [Theory]
    [MemberData(nameof(HandBuilt))]
    public void GraphsWrittenAsPyTorchWritesThemImportAndGiveOnnxRuntimesLogits(string name)
    {
        var model = OnnxTestModels.All().Single(m => m.Name == name);
        var imported = OnnxImporter.Import(model.Bytes);
        var network = new PackedNetwork(imported.Model);
        var random = new Random(2);
        int length = model.InputShape.Aggregate(1, (a, b) => a * b), count = 12;
        var inputs = Enumerable.Range(0, count * length).Select(_ => model.Tokens ? random.Next(model.Vocabulary) : (float)random.Next(256)).Select(v => (float)v).ToArray();

        using var session = new InferenceSession(model.Bytes);
        var shape = model.InputShape.Prepend(count).ToArray();
        var value = model.Tokens
            ? NamedOnnxValue.CreateFromTensor("x", new DenseTensor<long>(inputs.Select(v => (long)v).ToArray(), shape))
            : NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(inputs, shape));
        using var results = session.Run(new[] { value });
        var onnx = results.First().AsTensor<float>().ToArray();

        var logits = new float[network.OutputLength];
        for (int i = 0; i < count; i++)
        {
            network.Score(inputs.AsSpan(i * length, length).ToArray().Select(v => v * imported.InputScale).ToArray(), logits);
            var actual = model.Softmax ? Softmax(logits) : logits;
            var expected = onnx.AsSpan(i * logits.Length, logits.Length).ToArray();
            float scale = Math.Max(1e-3f, expected.Max(Math.Abs));
            for (int j = 0; j < logits.Length; j++)
                Assert.True(Math.Abs(actual[j] - expected[j]) <= 1e-4f * scale, $"{name} example {i} output {j}: imported {actual[j]}, ONNX Runtime {expected[j]}");
        }
    }

    [Fact]
    public void ImportFoldsWhatHasNoNodeOfItsOwn()
    {
        // The MLP's x / 255 becomes the input scale, MatMul + Add one Linear with a bias, LeakyRelu a PReLU at its α, Dropout nothing.
        var mlp = OnnxImporter.Import(OnnxTestModels.MlpOpset13().Bytes);
        Assert.Equal(1f / 255, mlp.InputScale);
        Assert.Equal(new[] { NodeKind.Conv2d, NodeKind.PReLU, NodeKind.AvgPool, NodeKind.Flatten, NodeKind.Linear, NodeKind.ReLU, NodeKind.Linear }, mlp.Model.Graph.Nodes.Select(n => n.Kind));
        Assert.True(mlp.Model.Graph.Nodes[4].Bias);
        Assert.Equal(0.1f, mlp.Model[StateNames.Weight(mlp.Model.Graph.Nodes[1])].Decode()[0]);
        // The ConvNet's Clip(0, 6) is a BCPReLU with slope 0 and upper clip 6; its Softmax is dropped; names are sanitised.
        var conv = OnnxImporter.Import(OnnxTestModels.ConvNetOpset11().Bytes);
        var clip = conv.Model.Graph.Nodes.Single(n => n.Kind == NodeKind.BCPReLU);
        Assert.Equal("relu6_Clip", clip.Name);
        Assert.Equal(new[] { 0f, 0f, 6f }, new[] { "slope", "lower_clip", "upper_clip" }.Select(t => conv.Model[StateNames.Own(clip, t)].Decode()[0]));
        Assert.Equal(NodeKind.Linear, conv.Model.Graph[conv.Model.Graph.Output].Kind);
    }

    [Fact]
    public void TheOptionsNormalisationIsAppliedBeforeTheGraph()
    {
        // The MLP reads x / 255 itself; the options put (x − 10) / 20 on channel 0 and (x − 30) / 40 on channel 1 in front.
        var model = OnnxTestModels.MlpOpset13();
        var imported = OnnxImporter.Import(model.Bytes, mean: new[] { 10f, 30f }, std: new[] { 20f, 40f });
        Assert.Equal(NodeKind.Normalize, imported.Model.Graph.Nodes[0].Kind);
        var network = new PackedNetwork(imported.Model);
        var random = new Random(4);
        var example = Enumerable.Range(0, 72).Select(_ => (float)random.Next(256)).ToArray();
        var normalized = example.Select((v, i) => i < 36 ? (v - 10) / 20 : (v - 30) / 40).ToArray();
        using var session = new InferenceSession(model.Bytes);
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("x", new DenseTensor<float>(normalized, new[] { 1, 2, 6, 6 })) });
        var expected = results.First().AsTensor<float>().ToArray();
        var logits = new float[network.OutputLength];
        network.Score(example, logits);
        for (int j = 0; j < logits.Length; j++) Assert.Equal(expected[j], logits[j], 4);
        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxImporter.Import(model.Bytes, mean: new[] { 1f, 2f, 3f }));
    }

    internal static float[] Softmax(float[] logits)
    {
        var exp = logits.Select(l => MathF.Exp(l - logits.Max())).ToArray();
        return exp.Select(e => e / exp.Sum()).ToArray();
    }

    /// <summary>The graph with random weights and BatchNorm statistics that are not the identity, exported.</summary>
    internal static ExportedModel Trained(NetworkGraph graph, float[] inputs, int count, bool tokens)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(7);
        var module = new GraphModule(graph);
        var batch = tensor(inputs).reshape(graph.InputShape.Select(d => (long)d).Prepend(count).ToArray());
        using (var _ = no_grad())
        {
            module.train();
            module.call(tokens ? batch.to(int64) : batch.Over(255));
        }
        module.eval();
        return ModelExporter.Export(module);
    }
}
