using System.Text.Json;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Serialization.Onnx;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Serialization;

/// <summary>
/// ONNX files that PyTorch 1.13's exporter wrote (Fixtures/onnx/make_pytorch_fixtures.py, with and without its constant
/// folding) import and give the outputs PyTorch computed.
/// </summary>
public class OnnxPyTorchFixtureTests
{
    public static TheoryData<string> Fixtures() => new()
    {
        "pytorch-convnet-opset11", "pytorch-convnet-opset13-unfolded", "pytorch-residual-opset17", "pytorch-textlstm-opset14", "pytorch-textlstm-opset11-unfolded",
        "pytorch-fashion-cnn-opset17",
    };

    private sealed record Reference(int[] InputShape, bool Tokens, float[] Inputs, float[] Outputs);

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void PyTorchExportsImportAndGivePyTorchsOutputs(string name)
    {
        var reference = JsonSerializer.Deserialize<Reference>(File.ReadAllText(RepoPaths.Fixture($"onnx/{name}.json")), new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
        var imported = OnnxImporter.Import(File.ReadAllBytes(RepoPaths.Fixture($"onnx/{name}.onnx")));
        Assert.Equal(reference.Tokens, imported.TokenIds);
        Assert.Equal(reference.InputShape, imported.Model.Graph.InputShape);
        var network = new PackedNetwork(imported.Model);
        int length = reference.InputShape.Aggregate(1, (a, b) => a * b), count = reference.Inputs.Length / length, classes = reference.Outputs.Length / count;
        var logits = new float[network.OutputLength];
        bool softmax = name.Contains("residual"); // its head ends in a Softmax, which the import drops
        for (int i = 0; i < count; i++)
        {
            network.Score(reference.Inputs.AsSpan(i * length, length).ToArray().Select(v => v * imported.InputScale).ToArray(), logits);
            var actual = softmax ? OnnxImportTests.Softmax(logits) : logits;
            for (int j = 0; j < classes; j++)
            {
                float expected = reference.Outputs[i * classes + j];
                Assert.True(Math.Abs(actual[j] - expected) <= 1e-4f * Math.Max(1, Math.Abs(expected)), $"{name} example {i} output {j}: imported {actual[j]}, PyTorch {expected}");
            }
        }
    }
}
