using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Graph;

public class QagTests
{
    public static IEnumerable<object[]> BuiltIns() => new[]
    {
        // graph, activation quantizers inserted, weight quantizers attached
        new object[] { "LeNet5", 5, 5 },
        new object[] { "VggSmall", 7, 7 },
        new object[] { "ResNet20", 22, 22 },
        new object[] { "TextLstm", 3, 4 }, // the embedding reads token ids: weights only
    };

    private static NetworkGraph Named(string name) => name switch
    {
        "LeNet5" => NetworkGraphs.LeNet5(),
        "VggSmall" => NetworkGraphs.VggSmall(),
        "ResNet20" => NetworkGraphs.ResNet20(),
        "TextLstm" => NetworkGraphs.TextLstm(vocabulary: 1000, sequenceLength: 32),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(BuiltIns))]
    public void InsertsOneQuantizerPerEdgeIntoEachExpensiveNode(string name, int activationQuantizers, int weightQuantizers)
    {
        var graph = Named(name);
        var quantized = Qag.Prepare(graph);
        Assert.Equal(activationQuantizers, quantized.Nodes.Count(n => n.Kind == NodeKind.Quantize));
        Assert.Equal(weightQuantizers, quantized.Nodes.Count(n => n.WeightQuantizer is not null));
        foreach (var node in quantized.Nodes.Where(n => n.Kind is NodeKind.Conv2d or NodeKind.Linear or NodeKind.Lstm))
        {
            Assert.All(node.Inputs, i => Assert.Equal(NodeKind.Quantize, quantized[i].Kind));
        }
        Assert.Equal(graph.Shapes[graph.Output], quantized.Shapes[quantized.Output]);
    }

    [Theory]
    [MemberData(nameof(BuiltIns))]
    public void LeavesTheGraphUnchangedOutsideEdgesIntoExpensiveNodes(string name, int activationQuantizers, int weightQuantizers)
    {
        var graph = Named(name);
        var quantized = Qag.Prepare(graph);
        // Bypass every quantizer node and drop the weight specs: the original graph comes back.
        var bypass = quantized.Nodes.Where(n => n.Kind == NodeKind.Quantize).ToDictionary(n => n.Name, n => n.Inputs[0]);
        var restored = quantized.Nodes.Where(n => n.Kind != NodeKind.Quantize)
            .Select(n => n with { WeightQuantizer = null, Inputs = n.Inputs.Select(i => bypass.GetValueOrDefault(i, i)).ToArray() }).ToList();
        Assert.Equal(graph.Nodes.Count, restored.Count);
        for (int i = 0; i < restored.Count; i++)
        {
            Assert.Equal(graph.Nodes[i] with { Inputs = Array.Empty<string>() }, restored[i] with { Inputs = Array.Empty<string>() });
            Assert.Equal(graph.Nodes[i].Inputs, restored[i].Inputs);
        }
        Assert.Equal(activationQuantizers, bypass.Count);
        Assert.True(weightQuantizers >= activationQuantizers);
    }

    [Fact]
    public void RunningTwiceIsAnErrorNeverADoubleInsertion()
    {
        var once = Qag.Prepare(NetworkGraphs.VggSmall());
        Assert.Throws<InvalidOperationException>(() => Qag.Prepare(once));
    }

    [Fact]
    public void FirstAndLastStayAtEightBitsUnlessAskedOtherwise()
    {
        var options = new QagOptions { Weights = new(QuantizationScheme.PotQ, 2), Activations = new(QuantizationScheme.ClipQ, 2) };
        var quantized = Qag.Prepare(NetworkGraphs.VggSmall(), options);
        Assert.Equal(8, quantized["conv1"].WeightQuantizer!.Bits);
        Assert.Equal(8, quantized["fc"].WeightQuantizer!.Bits);
        Assert.Equal(8, quantized["conv1.q0"].ActivationQuantizer!.Bits);
        Assert.All(new[] { "conv2", "conv3", "conv4", "conv5", "conv6" }, n => Assert.Equal(options.Weights, quantized[n].WeightQuantizer));
        Assert.Equal(options.Activations, quantized["conv4.q0"].ActivationQuantizer);

        var all = Qag.Prepare(NetworkGraphs.VggSmall(), new QagOptions { Weights = options.Weights, Activations = options.Activations, KeepFirstAndLastAt8Bits = false });
        Assert.All(all.Nodes.Where(n => n.WeightQuantizer is not null), n => Assert.Equal(2, n.WeightQuantizer!.Bits));
    }

    [Fact]
    public void ResidualBranchesReadingOneTensorEachGetTheirOwnQuantizer()
    {
        var quantized = Qag.Prepare(NetworkGraphs.ResNet20());
        Assert.Equal("s1b3.relu2", quantized["s2b1.conv1.q0"].Inputs[0]);
        Assert.Equal("s1b3.relu2", quantized["s2b1.proj.q0"].Inputs[0]);
        Assert.Equal(new[] { "s2b1.bn2", "s2b1.projbn" }, quantized["s2b1.add"].Inputs); // the sum itself is not quantized
    }

    [Fact]
    public void RestrictingExpensiveKindsAndBadSpecsAreHonoured()
    {
        var convOnly = Qag.Prepare(NetworkGraphs.LeNet5(), new QagOptions { ExpensiveKinds = new HashSet<NodeKind> { NodeKind.Conv2d } });
        Assert.Equal(2, convOnly.Nodes.Count(n => n.Kind == NodeKind.Quantize));
        Assert.Null(convOnly["fc1"].WeightQuantizer);
        Assert.Throws<ArgumentOutOfRangeException>(() => Qag.Prepare(NetworkGraphs.LeNet5(), new QagOptions { Weights = new(QuantizationScheme.PotQ, 6) }));
    }
}
