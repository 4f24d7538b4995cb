using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Serialization;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Training;

/// <summary>
/// Turns a trained <see cref="GraphModule"/> into an <see cref="ExportedModel"/>: quantized weights become
/// integer codes through their scheme's <see cref="SchemeMath.Export"/> (the same fit the eval
/// forward uses), every other tensor is copied as float32. The activation quantizers must be calibrated.
/// </summary>
internal static class ModelExporter
{
    public static ExportedModel Export(GraphModule module)
    {
        var uncalibrated = module.named_modules().Where(m => m.module is Layers.QuantActivation q && !q.IsCalibrated).Select(m => m.name).ToList();
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
                tensors[name] = ExportedTensor.Codes(SchemeMath.For(spec.Scheme).Export(cpu, spec.Bits, spec.Granularity));
                continue;
            }
            using var floats = cpu.to(float32).contiguous();
            tensors[name] = ExportedTensor.Float(cpu.shape.Select(d => checked((int)d)).ToArray(), floats.data<float>().ToArray());
        }
        foreach (var node in module.Graph.Nodes.Where(n => n.Kind == NodeKind.BCPReLU))
        {
            using var grid = module.Activation(node.Name).OutputGrid();
            if (grid is not null) AddGrid(tensors, StateNames.OutputGridPrefix(node), grid.ToGrid());
        }
        return new ExportedModel(module.Graph, tensors);
    }

    /// <summary>Stores a per-tensor grid the way an activation quantizer's buffers are stored.</summary>
    private static void AddGrid(Dictionary<string, ExportedTensor> tensors, string prefix, QuantizationGrid grid)
    {
        var order = grid.CodeOrder ?? Enumerable.Range(0, grid.LevelCount).ToArray();
        tensors[StateNames.Grid(prefix, "scales")] = ExportedTensor.Float(new[] { 1, 1 }, grid.Scales);
        tensors[StateNames.Grid(prefix, "levels")] = ExportedTensor.Float(new[] { 1, grid.LevelCount }, grid.Levels);
        tensors[StateNames.Grid(prefix, "thresholds")] = ExportedTensor.Float(new[] { 1, grid.LevelCount - 1 }, grid.Thresholds);
        tensors[StateNames.Grid(prefix, "code_order")] = ExportedTensor.Float(new[] { 1, grid.LevelCount }, order.Select(c => (float)c).ToArray());
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
