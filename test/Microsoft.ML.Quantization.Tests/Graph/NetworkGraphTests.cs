using Microsoft.ML.Quantization.Graph;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Graph;

public class NetworkGraphTests
{
    [Fact]
    public void BuiltInsHaveTheExpectedShapes()
    {
        var vgg = NetworkGraphs.VggSmall();
        Assert.Equal(new[] { 128 * 3 * 3 }, vgg.Shapes["flatten"]);
        Assert.Equal(10, vgg.OutputSize);
        Assert.Equal(6, vgg.Nodes.Count(n => n.Kind == NodeKind.Conv2d));

        var cifar = NetworkGraphs.VggSmall(channels: 3, size: 32, activation: NodeKind.BCPReLU);
        Assert.Equal(new[] { 128 * 4 * 4 }, cifar.Shapes["flatten"]);
        Assert.Equal(6, cifar.Nodes.Count(n => n.Kind == NodeKind.BCPReLU));

        var resnet = NetworkGraphs.ResNet20();
        Assert.Equal(new[] { 64, 8, 8 }, resnet.Shapes["s3b3.relu2"]);
        Assert.Equal(19 + 2, resnet.Nodes.Count(n => n.Kind == NodeKind.Conv2d));
        Assert.Equal(9, resnet.Nodes.Count(n => n.Kind == NodeKind.Add));

        Assert.Equal(new[] { 16 * 5 * 5 }, NetworkGraphs.LeNet5().Shapes["flatten"]); // 28 → pool 14 → conv5 10 → pool 5

        // torchvision's resnet18: 224 → stem 112 → pool 56 → 56, 28, 14, 7; 20 convolutions (3 of them projections).
        var resnet18 = NetworkGraphs.ResNet18();
        Assert.Equal(new[] { 64, 56, 56 }, resnet18.Shapes["maxpool"]);
        Assert.Equal(new[] { 512, 7, 7 }, resnet18.Shapes["layer4.1.relu2"]);
        Assert.Equal(20, resnet18.Nodes.Count(n => n.Kind == NodeKind.Conv2d));
        Assert.Equal(1000, resnet18.OutputSize);
        // Its 11,689,512 parameters: convolution and linear weights, the classifier's bias, and BatchNorm's scale and shift.
        long parameters = resnet18.Nodes.Sum(n => n.Kind switch
        {
            NodeKind.Conv2d => (long)n.Units * resnet18.Shapes[n.Inputs[0]][0] * n.Kernel * n.Kernel,
            NodeKind.Linear => (long)n.Units * (resnet18.Shapes[n.Inputs[0]][0] + 1),
            NodeKind.BatchNorm => 2L * resnet18.Shapes[n.Name][0],
            _ => 0,
        });
        Assert.Equal(11_689_512, parameters);

        var text = NetworkGraphs.TextLstm(vocabulary: 5000, sequenceLength: 100);
        Assert.Equal(new[] { 100, 64 }, text.Shapes["embedding"]);
        Assert.Equal(new[] { 128 }, text.Shapes["lstm"]);
        Assert.Equal(2, text.OutputSize);
    }

    [Fact]
    public void MismatchedLinearNamesTheNodeAndBothSizes()
    {
        var builder = new NetworkGraphBuilder(1, 28, 28).Conv2d("conv", 32, kernel: 3, padding: 1).MaxPool("pool", 2).Flatten("flat")
            .Add(new GraphNode { Name = "fc1", Kind = NodeKind.Linear, Units = 10, InputUnits = 3136 });
        var error = Assert.Throws<ArgumentException>(() => builder.Build());
        Assert.Contains("Linear 'fc1' expects 3136 inputs, receives 6272", error.Message);
    }

    [Fact]
    public void MalformedGraphsAreRejectedWithTheNodeName()
    {
        Assert.Contains("Linear 'fc' expects a vector",
            Assert.Throws<ArgumentException>(() => new NetworkGraphBuilder(1, 8, 8).Linear("fc", 2).Build()).Message);
        Assert.Contains("'add'",
            Assert.Throws<ArgumentException>(() => new NetworkGraphBuilder(1, 8, 8).Conv2d("a", 4, 3).Conv2d("b", 4, 1, from: "input").Sum("add", "a", "b").Build()).Message);
        Assert.Contains("'nowhere'",
            Assert.Throws<ArgumentException>(() => new NetworkGraphBuilder(1, 8, 8).ReLU("r", from: "nowhere").Build()).Message);
        Assert.Contains("used twice",
            Assert.Throws<ArgumentException>(() => new NetworkGraphBuilder(1, 8, 8).ReLU("r").ReLU("r").Build()).Message);
        Assert.Contains("does not fit",
            Assert.Throws<ArgumentException>(() => new NetworkGraphBuilder(1, 4, 4).Conv2d("c", 4, kernel: 7).Build()).Message);
    }
}
