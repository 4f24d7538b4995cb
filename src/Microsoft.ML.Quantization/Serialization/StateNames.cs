using Microsoft.ML.Quantization.Graph;
namespace Microsoft.ML.Quantization.Serialization;

/// <summary>
/// The names under which the training modules keep each node's tensors (TorchSharp state-dict names),
/// written here once so that export, import and the scoring runtime agree without touching torch.
/// </summary>
internal static class StateNames
{
    /// <summary>The name of a node's submodule inside the training module's layer dictionary: TorchSharp module names may not contain '.'.</summary>
    public static string ModuleName(string node) => node.Replace('.', '_');

    /// <summary>The state prefix of a node's submodule.</summary>
    public static string Module(string node) => "layers." + ModuleName(node);

    /// <summary>Weight of a Conv2d, Linear or Embedding node.</summary>
    public static string Weight(GraphNode node) => node.Kind switch
    {
        NodeKind.Conv2d => Module(node.Name) + ".conv.weight",
        NodeKind.Linear => Module(node.Name) + ".linear.weight",
        NodeKind.Embedding => Module(node.Name) + ".embedding.weight",
        NodeKind.BatchNorm or NodeKind.PReLU => Module(node.Name) + ".weight",
        _ => throw new ArgumentException($"Node '{node.Name}' ({node.Kind}) has no weight.", nameof(node)),
    };

    /// <summary>Bias of a Conv2d, Linear or BatchNorm node.</summary>
    public static string Bias(GraphNode node) => node.Kind switch
    {
        NodeKind.Conv2d => Module(node.Name) + ".conv.bias",
        NodeKind.Linear => Module(node.Name) + ".linear.bias",
        _ => Module(node.Name) + ".bias",
    };

    /// <summary>A named tensor directly on the node's module (BatchNorm statistics, BCPReLU clips, LSTM matrices).</summary>
    public static string Own(GraphNode node, string tensor) => Module(node.Name) + "." + tensor;

    /// <summary>A tensor of the activation quantizer at <paramref name="prefix"/> (a Quantize node's module or an LSTM's state quantizer).</summary>
    public static string Grid(string prefix, string tensor) => prefix + "." + tensor;

    /// <summary>The state prefix of a Quantize node's quantizer, or of an LSTM's recurrent-state quantizer.</summary>
    public static string QuantizerPrefix(GraphNode node) =>
        node.Kind == NodeKind.Lstm ? Module(node.Name) + ".state_quantizer" : Module(node.Name);

    /// <summary>The prefix of a BCPReLU's output grid (when it quantizes its output).</summary>
    public static string OutputGridPrefix(GraphNode node) => Module(node.Name) + ".output_grid";

    /// <summary>Tensors of the activation quantizer's frozen grid.</summary>
    public static readonly string[] GridTensors = { "scales", "levels", "thresholds", "code_order" };

    /// <summary>Every tensor the runtime needs for <paramref name="node"/>.</summary>
    public static IEnumerable<string> Required(GraphNode node)
    {
        switch (node.Kind)
        {
            case NodeKind.Conv2d or NodeKind.Linear:
                yield return Weight(node);
                if (node.Bias) yield return Bias(node);
                break;
            case NodeKind.Embedding or NodeKind.PReLU:
                yield return Weight(node);
                break;
            case NodeKind.BatchNorm:
                foreach (string t in new[] { "weight", "bias", "running_mean", "running_var" }) yield return Own(node, t);
                break;
            case NodeKind.BCPReLU:
                foreach (string t in new[] { "slope", "lower_clip", "upper_clip" }) yield return Own(node, t);
                break;
            case NodeKind.Lstm:
                foreach (string t in new[] { "weight_ih", "weight_hh", "bias" }) yield return Own(node, t);
                break;
            case NodeKind.Quantize:
                foreach (string t in GridTensors) yield return Grid(QuantizerPrefix(node), t);
                break;
            case NodeKind.Normalize:
                yield return Own(node, "mean");
                yield return Own(node, "std");
                break;
        }
    }
}
