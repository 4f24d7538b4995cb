using Microsoft.ML.Quantization.Activations;

namespace Microsoft.ML.Quantization.Graph;

/// <summary>
/// Fluent construction of a <see cref="NetworkGraph"/>. Each call appends a node that reads the previous
/// node (or the nodes named in <c>from</c>), so a plain chain needs no wiring:
/// <code>
///   var graph = new NetworkGraphBuilder(1, 28, 28)
///       .Conv2d("conv1", 32, kernel: 3, padding: 1).BatchNorm("bn1").ReLU("relu1").MaxPool("pool1", 2)
///       .Flatten("flat").Linear("fc", 10)
///       .Build();
/// </code>
/// </summary>
public sealed class NetworkGraphBuilder
{
    private readonly int[] inputShape;
    private readonly List<GraphNode> nodes = new();

    /// <summary>Starts a graph whose input has the given shape (without the batch dimension).</summary>
    public NetworkGraphBuilder(params int[] inputShape) => this.inputShape = inputShape;

    /// <summary>Name of the last node added (the graph input before any).</summary>
    public string Last => nodes.Count == 0 ? NetworkGraph.InputName : nodes[^1].Name;

    /// <summary>Appends any node; its inputs default to the last node.</summary>
    public NetworkGraphBuilder Add(GraphNode node)
    {
        nodes.Add(node.Inputs.Count == 0 && node.Kind is not (NodeKind.Add or NodeKind.Concat) ? node with { Inputs = new[] { Last } } : node);
        return this;
    }

    /// <summary>Appends a 2-D convolution; <paramref name="groups"/> &gt; 1 makes it grouped (depthwise when it equals the input channels).</summary>
    public NetworkGraphBuilder Conv2d(string name, int outChannels, int kernel, int stride = 1, int padding = 0, bool bias = false, string? from = null, int groups = 1) =>
        Add(new GraphNode { Name = name, Kind = NodeKind.Conv2d, Units = outChannels, Kernel = kernel, Stride = stride, Padding = padding, Bias = bias, Inputs = From(from), Groups = groups });

    /// <summary>Appends a fully connected layer.</summary>
    public NetworkGraphBuilder Linear(string name, int outFeatures, bool bias = true, string? from = null) =>
        Add(new GraphNode { Name = name, Kind = NodeKind.Linear, Units = outFeatures, Bias = bias, Inputs = From(from) });

    /// <summary>Appends batch normalisation.</summary>
    public NetworkGraphBuilder BatchNorm(string name, string? from = null) => Simple(name, NodeKind.BatchNorm, from);

    /// <summary>Appends a ReLU.</summary>
    public NetworkGraphBuilder ReLU(string name, string? from = null) => Simple(name, NodeKind.ReLU, from);

    /// <summary>Appends a PReLU with one learned slope, or one per channel when <paramref name="slopes"/> is the channel count.</summary>
    public NetworkGraphBuilder PReLU(string name, string? from = null, int slopes = 1) =>
        Add(new GraphNode { Name = name, Kind = NodeKind.PReLU, Units = slopes, Inputs = From(from) });

    /// <summary>Appends a BCPReLU with <paramref name="options"/> (null for the defaults).</summary>
    public NetworkGraphBuilder BCPReLU(string name, string? from = null, BCPReLUOptions? options = null) =>
        Add(new GraphNode { Name = name, Kind = NodeKind.BCPReLU, Inputs = From(from), BCPReLU = options is null ? null : options with { } });

    /// <summary>Appends max pooling.</summary>
    public NetworkGraphBuilder MaxPool(string name, int kernel, int? stride = null, int padding = 0, string? from = null) =>
        Add(new GraphNode { Name = name, Kind = NodeKind.MaxPool, Kernel = kernel, Stride = stride ?? kernel, Padding = padding, Inputs = From(from) });

    /// <summary>Appends average pooling.</summary>
    public NetworkGraphBuilder AvgPool(string name, int kernel, int? stride = null, int padding = 0, string? from = null) =>
        Add(new GraphNode { Name = name, Kind = NodeKind.AvgPool, Kernel = kernel, Stride = stride ?? kernel, Padding = padding, Inputs = From(from) });

    /// <summary>Appends global average pooling.</summary>
    public NetworkGraphBuilder GlobalAvgPool(string name, string? from = null) => Simple(name, NodeKind.GlobalAvgPool, from);

    /// <summary>Appends a flatten.</summary>
    public NetworkGraphBuilder Flatten(string name, string? from = null) => Simple(name, NodeKind.Flatten, from);

    /// <summary>Appends dropout.</summary>
    public NetworkGraphBuilder Dropout(string name, double rate, string? from = null) =>
        Add(new GraphNode { Name = name, Kind = NodeKind.Dropout, Rate = rate, Inputs = From(from) });

    /// <summary>Appends a residual sum of two nodes.</summary>
    public NetworkGraphBuilder Sum(string name, string left, string right) =>
        Add(new GraphNode { Name = name, Kind = NodeKind.Add, Inputs = new[] { left, right } });

    /// <summary>Appends a sigmoid.</summary>
    public NetworkGraphBuilder Sigmoid(string name, string? from = null) => Simple(name, NodeKind.Sigmoid, from);

    /// <summary>Appends a tanh.</summary>
    public NetworkGraphBuilder Tanh(string name, string? from = null) => Simple(name, NodeKind.Tanh, from);

    /// <summary>Appends the join of <paramref name="inputs"/> along their channels (or features).</summary>
    public NetworkGraphBuilder Concat(string name, params string[] inputs) =>
        Add(new GraphNode { Name = name, Kind = NodeKind.Concat, Inputs = inputs });

    /// <summary>Appends a fixed per-channel normalisation (x − mean) / std; its statistics are tensors of the trained model.</summary>
    public NetworkGraphBuilder Normalize(string name, string? from = null) => Simple(name, NodeKind.Normalize, from);

    /// <summary>Appends an embedding of token ids.</summary>
    public NetworkGraphBuilder Embedding(string name, int vocabulary, int dimension, string? from = null) =>
        Add(new GraphNode { Name = name, Kind = NodeKind.Embedding, Vocabulary = vocabulary, Units = dimension, Inputs = From(from) });

    /// <summary>Appends an LSTM that outputs its last hidden state.</summary>
    public NetworkGraphBuilder Lstm(string name, int hidden, string? from = null) =>
        Add(new GraphNode { Name = name, Kind = NodeKind.Lstm, Units = hidden, Inputs = From(from) });

    /// <summary>Builds the graph, with the last node as output; shape errors are thrown here.</summary>
    public NetworkGraph Build() => new(inputShape, nodes);

    private NetworkGraphBuilder Simple(string name, NodeKind kind, string? from) =>
        Add(new GraphNode { Name = name, Kind = kind, Inputs = From(from) });

    private IReadOnlyList<string> From(string? from) => new[] { from ?? Last };
}
