using System.Text;
using Google.Protobuf;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Serialization.Onnx;
using Microsoft.ML.Quantization.Serialization.Onnx.Proto;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Serialization;

/// <summary>
/// Bad ONNX gives a typed error that names the cause; 5,000 mutated files raise nothing but the documented exceptions.
/// </summary>
public class OnnxImportErrorTests
{
    private static readonly byte[] ConvNet = OnnxTestModels.ConvNetOpset11().Bytes;

    public static TheoryData<string, Type, string> BadModels() => new()
    {
        { "truncated", typeof(InvalidDataException), "not an ONNX model" },
        { "not protobuf", typeof(InvalidDataException), "not an ONNX model" },
        { "unknown op", typeof(NotSupportedException), "ONNX node '/relu/Relu' (Celu, opset 11): has no MLQuant equivalent" },
        { "cycle", typeof(InvalidDataException), "cycle through node" },
        { "dims over the limit", typeof(InvalidDataException), "over the limit of 268435456 elements" },
        { "initializer size", typeof(InvalidDataException), "tensor 'conv1.bias' holds 3 values for dimensions of 4 elements" },
        { "external data", typeof(NotSupportedException), "keeps its data in an external file" },
        { "no input", typeof(InvalidDataException), "has no input" },
        { "opset 9", typeof(NotSupportedException), "uses opset 9; MLQuant imports opsets 11 to 21" },
        { "custom domain", typeof(NotSupportedException), "is in domain 'com.microsoft'" },
        { "control flow", typeof(NotSupportedException), "holds a subgraph; control flow is not supported" },
        { "unknown attribute", typeof(NotSupportedException), "attribute 'mystery' is not supported" },
        { "groups that do not divide", typeof(InvalidDataException), "has a weight for 3 input channels per group in 3 groups, receives 3" },
        { "softmax inside", typeof(NotSupportedException), "(Softmax, opset 11): is inside the network" },
        { "unused output used", typeof(NotSupportedException), "output 1 ('indices') is used" },
    };

    [Theory]
    [MemberData(nameof(BadModels))]
    public void BadOnnxGivesATypedErrorNamingTheCause(string bad, Type expected, string message)
    {
        byte[] bytes = bad switch
        {
            "truncated" => ConvNet[..(ConvNet.Length / 2)],
            "not protobuf" => Encoding.UTF8.GetBytes("<html><body>not a model</body></html>"),
            _ => OnnxTestModels.Changed(ConvNet, model => Break(model, bad)),
        };
        var error = Assert.Throws(expected, () => OnnxImporter.Import(bytes));
        Assert.Contains(message, error.Message);
    }

    private static void Break(ModelProto model, string bad)
    {
        var graph = model.Graph;
        var relu = graph.Node.Single(n => n.OpType == "Relu");
        switch (bad)
        {
            case "unknown op":
                relu.OpType = "Celu";
                break;
            case "cycle":
                relu.Input[0] = "p1"; // the MaxPool reads the Relu's output
                break;
            case "dims over the limit":
                graph.Initializer[0].Dims.Clear();
                graph.Initializer[0].Dims.AddRange(new long[] { 1 << 20, 1 << 20 });
                break;
            case "initializer size":
                var bias = graph.Initializer.Single(t => t.Name == "conv1.bias");
                bias.RawData = ByteString.Empty;
                bias.FloatData.AddRange(new[] { 1f, 2f, 3f });
                break;
            case "external data":
                graph.Initializer[0].DataLocation = TensorProto.Types.DataLocation.External;
                graph.Initializer[0].ExternalData.Add(new StringStringEntryProto { Key = "location", Value = "weights.bin" });
                break;
            case "no input":
                graph.Input.Clear();
                break;
            case "opset 9":
                model.OpsetImport[0].Version = 9;
                break;
            case "custom domain":
                relu.Domain = "com.microsoft";
                break;
            case "control flow":
                relu.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = new GraphProto() });
                break;
            case "unknown attribute":
                relu.Attribute.Add(new AttributeProto { Name = "mystery", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
                break;
            case "groups that do not divide":
                var conv = graph.Node.First(n => n.OpType == "Conv");
                conv.Attribute.Single(a => a.Name == "group").I = 3;
                break;
            case "softmax inside":
                relu.OpType = "Softmax";
                break;
            case "unused output used":
                var pool = graph.Node.Single(n => n.OpType == "MaxPool");
                pool.Output.Add("indices");
                graph.Node.Single(n => n.Name == "/conv2/Conv").Input[0] = "indices";
                break;
        }
    }

    /// <summary>Byte-level and structural mutations of three models; each import succeeds and scores, or throws one of the documented exceptions.</summary>
    [Fact]
    public void FiveThousandMutatedFilesRaiseOnlyDocumentedExceptions()
    {
        var seeds = OnnxTestModels.All().Select(m => m.Bytes).ToArray();
        var random = new Random(2026);
        var outcomes = new Dictionary<string, int>();
        for (int i = 0; i < 5000; i++)
        {
            byte[] seed = seeds[i % seeds.Length];
            byte[] bytes = i % 2 == 0 ? MutateBytes(seed, random) : OnnxTestModels.Changed(seed, model => MutateModel(model, random));
            string outcome;
            try
            {
                var imported = OnnxImporter.Import(bytes);
                var network = new PackedNetwork(imported.Model);
                network.Score(new float[imported.Model.Graph.InputShape.Aggregate(1, (a, b) => a * b)], new float[network.OutputLength]);
                outcome = "imported";
            }
            catch (Exception e) when (e is InvalidDataException or NotSupportedException or ArgumentOutOfRangeException)
            {
                outcome = e.GetType().Name;
            }
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        // Every kind of outcome occurs, so the mutations reach both the parser and the graph mapping.
        Assert.True(outcomes.GetValueOrDefault("imported") > 100, string.Join(", ", outcomes));
        Assert.True(outcomes.GetValueOrDefault(nameof(InvalidDataException)) > 100, string.Join(", ", outcomes));
        Assert.True(outcomes.GetValueOrDefault(nameof(NotSupportedException)) > 100, string.Join(", ", outcomes));
    }

    private static byte[] MutateBytes(byte[] seed, Random random)
    {
        var bytes = seed.ToArray();
        switch (random.Next(3))
        {
            case 0:
                for (int k = random.Next(1, 9); k > 0; k--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                return bytes;
            case 1:
                return bytes[..random.Next(bytes.Length)];
            default:
                int at = random.Next(bytes.Length);
                var inserted = new byte[random.Next(1, 16)];
                random.NextBytes(inserted);
                return bytes[..at].Concat(inserted).Concat(bytes[at..]).ToArray();
        }
    }

    private static readonly string[] Ops = { "Relu", "Conv", "Gemm", "Reshape", "Flatten", "Add", "Mul", "Gather", "LSTM", "Concat", "Shape", "Transpose", "Softmax", "Sigmoid", "Identity", "Squeeze" };

    private static void MutateModel(ModelProto model, Random random)
    {
        var graph = model.Graph;
        var node = graph.Node[random.Next(graph.Node.Count)];
        switch (random.Next(8))
        {
            case 0:
                node.OpType = Ops[random.Next(Ops.Length)];
                break;
            case 1:
                if (node.Input.Count > 0) node.Input[random.Next(node.Input.Count)] = random.Next(2) == 0 ? "" : graph.Node[random.Next(graph.Node.Count)].Output[0];
                break;
            case 2:
                graph.Node.Remove(node);
                break;
            case 3:
                if (node.Attribute.Count > 0)
                {
                    var attribute = node.Attribute[random.Next(node.Attribute.Count)];
                    attribute.I = random.Next(-3, 8);
                    for (int k = 0; k < attribute.Ints.Count; k++) attribute.Ints[k] = random.Next(-3, 8);
                    attribute.F = (float)(random.NextDouble() * 4 - 1);
                }
                break;
            case 4:
                var tensor = graph.Initializer[random.Next(graph.Initializer.Count)];
                if (tensor.Dims.Count > 0) tensor.Dims[random.Next(tensor.Dims.Count)] = random.Next(0, 40);
                break;
            case 5:
                var input = graph.Input[0].Type.TensorType.Shape.Dim;
                input[random.Next(input.Count)].DimValue = random.Next(-1, 12);
                break;
            case 6:
                model.OpsetImport[0].Version = random.Next(9, 24);
                break;
            default:
                node.Output[0] = graph.Node[random.Next(graph.Node.Count)].Output[0];
                break;
        }
    }
}
