namespace Microsoft.ML.Quantization.Graph;

/// <summary>Built-in network graphs used by the trainers, samples and benchmarks.</summary>
public static class NetworkGraphs
{
    /// <summary>LeNet-5 (LeCun et al. 1998) with ReLU and max pooling.</summary>
    public static NetworkGraph LeNet5(int channels = 1, int size = 28, int classes = 10) =>
        new NetworkGraphBuilder(channels, size, size)
            .Conv2d("conv1", 6, kernel: 5, padding: 2, bias: true).ReLU("relu1").MaxPool("pool1", 2)
            .Conv2d("conv2", 16, kernel: 5, bias: true).ReLU("relu2").MaxPool("pool2", 2)
            .Flatten("flatten").Linear("fc1", 120).ReLU("relu3").Linear("fc2", 84).ReLU("relu4").Linear("fc3", classes)
            .Build();

    /// <summary>
    /// The 7-layer VGG-like net of AutoQNN's experiments: three stages of two 3×3 conv + BN + activation,
    /// each followed by 2×2 max pooling, then one linear classifier. Widths default to 32-32-64-64-128-128,
    /// sized for 1×28×28 and 3×32×32 inputs on a CPU.
    /// </summary>
    /// <param name="channels">Input channels.</param>
    /// <param name="size">Input height and width.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="widths">Output channels of the six convolutions.</param>
    /// <param name="activation"><see cref="NodeKind.ReLU"/> or <see cref="NodeKind.BCPReLU"/>.</param>
    public static NetworkGraph VggSmall(int channels = 1, int size = 28, int classes = 10, IReadOnlyList<int>? widths = null, NodeKind activation = NodeKind.ReLU)
    {
        var w = widths ?? new[] { 32, 32, 64, 64, 128, 128 };
        if (w.Count != 6) throw new ArgumentException("VggSmall has six convolutions.", nameof(widths));
        if (activation is not (NodeKind.ReLU or NodeKind.BCPReLU or NodeKind.PReLU)) throw new ArgumentException("The activation must be ReLU, PReLU or BCPReLU.", nameof(activation));
        var b = new NetworkGraphBuilder(channels, size, size);
        for (int i = 0; i < 6; i++)
        {
            b.Conv2d($"conv{i + 1}", w[i], kernel: 3, padding: 1).BatchNorm($"bn{i + 1}")
             .Add(new GraphNode { Name = $"act{i + 1}", Kind = activation });
            if (i % 2 == 1) b.MaxPool($"pool{i / 2 + 1}", 2);
        }
        return b.Flatten("flatten").Linear("fc", classes).Build();
    }

    /// <summary>ResNet-20 for 32×32 inputs (He et al. 2016): three stages of three basic blocks (16, 32, 64 channels), 1×1 projection shortcuts where the shape changes.</summary>
    public static NetworkGraph ResNet20(int channels = 3, int size = 32, int classes = 10)
    {
        var b = new NetworkGraphBuilder(channels, size, size).Conv2d("conv0", 16, kernel: 3, padding: 1).BatchNorm("bn0").ReLU("relu0");
        int inChannels = 16;
        foreach (var (stage, width) in new[] { (1, 16), (2, 32), (3, 64) })
            for (int block = 1; block <= 3; block++)
                inChannels = BasicBlock(b, $"s{stage}b{block}", width, stage > 1 && block == 1 ? 2 : 1, inChannels, "proj", "projbn");
        return b.GlobalAvgPool("gap").Linear("fc", classes).Build();
    }

    /// <summary>
    /// ResNet-18 as torchvision builds it for ImageNet (He et al. 2016), with its node names: a 7×7 stride-2 stem and a 3×3
    /// stride-2 max pool, four stages of two basic blocks (64, 128, 256, 512 channels; the first block of stages 2–4 halves
    /// the size through a 1×1 projection), global average pooling and the classifier.
    /// </summary>
    /// <param name="channels">Input channels (3 for RGB).</param>
    /// <param name="size">Input height and width (224 for ImageNet).</param>
    /// <param name="classes">Number of classes.</param>
    public static NetworkGraph ResNet18(int channels = 3, int size = 224, int classes = 1000)
    {
        var b = new NetworkGraphBuilder(channels, size, size).Conv2d("conv1", 64, kernel: 7, stride: 2, padding: 3).BatchNorm("bn1").ReLU("relu")
            .MaxPool("maxpool", kernel: 3, stride: 2, padding: 1);
        int inChannels = 64;
        foreach (var (stage, width) in new[] { (1, 64), (2, 128), (3, 256), (4, 512) })
            for (int block = 0; block < 2; block++)
                inChannels = BasicBlock(b, $"layer{stage}.{block}", width, stage > 1 && block == 0 ? 2 : 1, inChannels, "downsample", "downsample.bn");
        return b.GlobalAvgPool("avgpool").Linear("fc", classes).Build();
    }

    /// <summary>
    /// A basic residual block named <paramref name="p"/>: two 3×3 convolutions with BatchNorm, the first strided, added to
    /// the input (through a 1×1 projection and its BatchNorm where the shape changes), then ReLU. Returns its width.
    /// </summary>
    private static int BasicBlock(NetworkGraphBuilder b, string p, int width, int stride, int inChannels, string projection, string projectionNorm)
    {
        string input = b.Last;
        b.Conv2d($"{p}.conv1", width, kernel: 3, stride: stride, padding: 1).BatchNorm($"{p}.bn1").ReLU($"{p}.relu1")
         .Conv2d($"{p}.conv2", width, kernel: 3, padding: 1).BatchNorm($"{p}.bn2");
        string main = b.Last, shortcut = input;
        if (stride != 1 || inChannels != width)
        {
            b.Conv2d($"{p}.{projection}", width, kernel: 1, stride: stride, from: input).BatchNorm($"{p}.{projectionNorm}");
            shortcut = b.Last;
        }
        b.Sum($"{p}.add", main, shortcut).ReLU($"{p}.relu2");
        return width;
    }

    /// <summary>The text model of AutoQNN's text experiment: Embedding → LSTM → (Dropout) → Linear → ReLU → Linear.</summary>
    /// <param name="vocabulary">Vocabulary size, reserved ids included.</param>
    /// <param name="sequenceLength">Tokens per example (padded or cut).</param>
    /// <param name="embedding">Embedding size.</param>
    /// <param name="hidden">LSTM hidden size.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="dropout">Drop rate applied to the LSTM's output during training; 0 for none.</param>
    public static NetworkGraph TextLstm(int vocabulary, int sequenceLength = 256, int embedding = 64, int hidden = 128, int classes = 2, double dropout = 0)
    {
        var builder = new NetworkGraphBuilder(sequenceLength).Embedding("embedding", vocabulary, embedding).Lstm("lstm", hidden);
        if (dropout > 0) builder = builder.Dropout("dropout", dropout);
        return builder.Linear("fc1", hidden / 2).ReLU("relu").Linear("fc2", classes).Build();
    }
}
