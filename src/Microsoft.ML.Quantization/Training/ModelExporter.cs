using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Serialization;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Training;

/// <summary>
/// Turns a trained <see cref="GraphModule"/> into an <see cref="ExportedModel"/>: quantized weights become
/// integer codes through their scheme's <see cref="QuantizerScheme.Export"/> (the same fit the eval
/// forward uses), every other tensor is copied as float32. The activation quantizers must be calibrated.
/// </summary>
internal static class ModelExporter
{
    public static ExportedModel Export(GraphModule module, int? activationOutputBits = null)
    {
        var uncalibrated = module.named_modules().Where(m => m.module is Layers.ActivationQuantizer q && !q.IsCalibrated).Select(m => m.name).ToList();
        if (uncalibrated.Count > 0)
            throw new InvalidOperationException($"Activation quantizers {string.Join(", ", uncalibrated)} are not calibrated; call GraphModule.Calibrate first.");
        var quantizedWeights = QuantizedWeights(module.Graph);
        var tensors = new Dictionary<string, ExportedTensor>(StringComparer.Ordinal);
        using var _ = no_grad();
        foreach (var (name, value) in module.state_dict())
        {
            if (name.EndsWith(".num_batches_tracked", StringComparison.Ordinal) || name.EndsWith(".calibrated", StringComparison.Ordinal)) continue;
            using var cpu = value.detach().cpu();
            if (quantizedWeights.TryGetValue(name, out var spec))
            {
                tensors[name] = ExportedTensor.Packed(QuantizerScheme.For(spec.Scheme).Export(cpu, spec.Bits, spec.Granularity));
                continue;
            }
            using var floats = cpu.to(float32).contiguous();
            tensors[name] = ExportedTensor.Float(cpu.shape.Select(d => checked((int)d)).ToArray(), floats.data<float>().ToArray());
        }
        return new ExportedModel(module.Graph, tensors, activationOutputBits);
    }

    /// <summary>The state names of the weights that carry a quantizer, with it.</summary>
    private static Dictionary<string, QuantizerSpec> QuantizedWeights(NetworkGraph graph)
    {
        var result = new Dictionary<string, QuantizerSpec>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes.Where(n => n.WeightQuantizer is not null))
        {
            if (node.Kind == NodeKind.Lstm)
            {
                result[StateNames.Own(node, "weight_ih")] = node.WeightQuantizer!;
                result[StateNames.Own(node, "weight_hh")] = node.WeightQuantizer!;
            }
            else
            {
                result[StateNames.Weight(node)] = node.WeightQuantizer!;
            }
        }
        return result;
    }
}
