using Microsoft.ML.Quantization.Serialization;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Training;

/// <summary>
/// Moves trained weights into a <see cref="GraphModule"/>: from an exported FP32 network (a model trained
/// earlier, or loaded from a file) or from another module of the same graph (one search stage to the next).
/// Search parameters and calibration buffers are the stage's own and are left as they are.
/// </summary>
internal static class ModuleState
{
    /// <summary>Copies every tensor of <paramref name="model"/>'s state that <paramref name="source"/> holds.</summary>
    /// <exception cref="InvalidDataException">A parameter of the module is missing from the source, or its shape differs.</exception>
    public static void Load(GraphModule model, IReadOnlyDictionary<string, Tensor> source)
    {
        using var _ = no_grad();
        var parameters = model.named_parameters().Select(p => p.name).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, target) in model.state_dict())
        {
            if (name.StartsWith(GraphModule.SearchPrefix, StringComparison.Ordinal)) continue;
            if (!source.TryGetValue(name, out var value))
            {
                if (parameters.Contains(name)) throw new InvalidDataException($"The trained network has no tensor '{name}'.");
                continue;
            }
            if (!value.shape.SequenceEqual(target.shape))
                throw new InvalidDataException($"Tensor '{name}' has shape [{string.Join(",", value.shape)}]; the network needs [{string.Join(",", target.shape)}].");
            target.copy_(value);
        }
    }

    /// <summary>The float tensors of an exported FP32 network, by state name.</summary>
    /// <exception cref="InvalidOperationException">The network holds quantized weights.</exception>
    public static Dictionary<string, Tensor> FromExported(ExportedModel model)
    {
        if (model.Graph.IsQuantized) throw new InvalidOperationException("Automatic quantization starts from an FP32 network; this one is already quantized.");
        return Decoded(model, _ => true);
    }

    /// <summary>
    /// The tensors of a quantized network as the start of more training: weights at their stored levels, no activation grids
    /// (training uses each batch's own, and finishing calibrates new ones).
    /// </summary>
    public static Dictionary<string, Tensor> FromQuantized(ExportedModel model)
    {
        var grids = model.Graph.Nodes
            .SelectMany(n => new[] { StateNames.QuantizerPrefix(n), StateNames.OutputGridPrefix(n) })
            .SelectMany(prefix => StateNames.GridTensors.Select(t => StateNames.Grid(prefix, t)))
            .ToHashSet(StringComparer.Ordinal);
        return Decoded(model, name => !grids.Contains(name));
    }

    private static Dictionary<string, Tensor> Decoded(ExportedModel model, Func<string, bool> keep) =>
        model.Tensors.Where(t => keep(t.Key)).ToDictionary(t => t.Key, t => tensor(t.Value.Decode()).reshape(t.Value.Shape.Select(d => (long)d).ToArray()), StringComparer.Ordinal);

    /// <summary>A detached CPU copy of <paramref name="model"/>'s state.</summary>
    public static Dictionary<string, Tensor> Snapshot(GraphModule model) =>
        model.state_dict().ToDictionary(p => p.Key, p => p.Value.detach().cpu().clone(), StringComparer.Ordinal);
}
