using Microsoft.ML.Quantization.Graph;

namespace Microsoft.ML.Quantization.Tests.Infrastructure;

/// <summary>Graphs beyond the built-ins that the runtime and export tests run for every scheme: the node kinds imported models bring.</summary>
internal static class TestGraphs
{
    /// <summary>MobileNet-style blocks: a depthwise 3×3 (one group per channel), a pointwise 1×1, and a grouped 3×3 (four groups).</summary>
    public static NetworkGraph MobileNet() =>
        new NetworkGraphBuilder(1, 28, 28)
            .Conv2d("conv0", 8, kernel: 3, padding: 1).BatchNorm("bn0").ReLU("relu0")
            .Conv2d("depthwise", 8, kernel: 3, padding: 1, groups: 8).BatchNorm("bn1").ReLU("relu1")
            .Conv2d("pointwise", 16, kernel: 1).BatchNorm("bn2").ReLU("relu2").MaxPool("pool", 2)
            .Conv2d("grouped", 16, kernel: 3, stride: 2, padding: 1, groups: 4).BatchNorm("bn3").ReLU("relu3")
            .GlobalAvgPool("gap").Linear("fc", 10).Build();

    /// <summary>An input normalisation, two branches (a PReLU per channel and a tanh) joined along the channels, then a sigmoid before the head.</summary>
    public static NetworkGraph Branches() =>
        new NetworkGraphBuilder(1, 28, 28)
            .Normalize("normalize")
            .Conv2d("left", 6, kernel: 3, padding: 1, bias: true).PReLU("left_prelu", slopes: 6)
            .Conv2d("right", 4, kernel: 1, bias: true, from: "normalize").Tanh("right_tanh")
            .Concat("join", "left_prelu", "right_tanh")
            .Conv2d("mix", 12, kernel: 3, stride: 2, padding: 1).BatchNorm("bn").Sigmoid("gate").MaxPool("pool", 2)
            .Flatten("flatten").Linear("fc", 10).Build();

    /// <summary>
    /// A ResNet stem: a 7×7 convolution, BatchNorm and ReLU, a 3×3 stride-2 max pool with padding, then one basic block whose
    /// shortcut is the pool's output, a strided convolution, global pooling and the classifier. The stem keeps 28×28 (stride 1) and has 64 channels,
    /// so that two threads share the pool.
    /// </summary>
    public static NetworkGraph PooledStem() =>
        new NetworkGraphBuilder(1, 28, 28)
            .Conv2d("stem", 64, kernel: 7, padding: 3).BatchNorm("stem_bn").ReLU("stem_relu").MaxPool("pool", kernel: 3, stride: 2, padding: 1)
            .Conv2d("conv1", 64, kernel: 3, padding: 1).BatchNorm("bn1").ReLU("relu1")
            .Conv2d("conv2", 64, kernel: 3, padding: 1).BatchNorm("bn2").Sum("add", "bn2", "pool").ReLU("relu2")
            .Conv2d("conv3", 64, kernel: 3, stride: 2, padding: 1).BatchNorm("bn3").ReLU("relu3").GlobalAvgPool("gap").Linear("fc", 10).Build();

    /// <summary>
    /// A stem over 3 colour channels at 32×32: a 7×7 stride-2 convolution (its 8-bit rows gathered with the channels interleaved),
    /// BatchNorm, ReLU and a padded 3×3 stride-2 max pool, a 3×3 convolution, global pooling and the classifier.
    /// </summary>
    public static NetworkGraph ColourStem() =>
        new NetworkGraphBuilder(3, 32, 32)
            .Conv2d("stem", 16, kernel: 7, stride: 2, padding: 3).BatchNorm("stem_bn").ReLU("stem_relu").MaxPool("pool", kernel: 3, stride: 2, padding: 1)
            .Conv2d("conv1", 16, kernel: 3, padding: 1).BatchNorm("bn1").ReLU("relu1")
            .GlobalAvgPool("gap").Linear("fc", 10).Build();
}
