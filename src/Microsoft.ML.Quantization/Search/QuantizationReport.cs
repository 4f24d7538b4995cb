using Microsoft.ML.Quantization.Graph;

namespace Microsoft.ML.Quantization.Search;

/// <summary>How one expensive layer is quantized.</summary>
/// <param name="Layer">The layer's node name.</param>
/// <param name="Weights">Its weight quantizer (scheme and bits).</param>
/// <param name="WeightCount">Number of weights.</param>
/// <param name="WeightBytes">Bytes of the packed weight codes, ⌈count·bits/8⌉.</param>
/// <param name="Activations">The quantizer on its input, or null (an Embedding reads token ids).</param>
/// <param name="ActivationCount">Input values quantized per example (an LSTM's recurrent state included).</param>
public sealed record LayerQuantization(string Layer, QuantizerSpec Weights, long WeightCount, long WeightBytes, QuantizerSpec? Activations, long ActivationCount);

/// <summary>The scheme probabilities softmax(θ) of one quantizer vertex after a QSS epoch (AutoQNN Fig. 6 and 8).</summary>
/// <param name="Epoch">1-based search epoch.</param>
/// <param name="Vertex">The vertex: "{layer}.weight", an activation quantizer node, or "weights"/"activations" in model-wise search.</param>
/// <param name="Candidates">The candidate quantizers.</param>
/// <param name="Probabilities">Their probabilities, in the same order.</param>
public sealed record SchemeProbabilities(int Epoch, string Vertex, IReadOnlyList<QuantizerSpec> Candidates, IReadOnlyList<double> Probabilities);

/// <summary>A vertex's continuous bitwidth after a QPL epoch.</summary>
/// <param name="Epoch">1-based QPL epoch.</param>
/// <param name="Vertex">The vertex.</param>
/// <param name="Bits">The learned, not yet rounded, bitwidth.</param>
public sealed record LearnedBits(int Epoch, string Vertex, double Bits);

/// <summary>A vertex's attention over its DQA branches after an epoch.</summary>
/// <param name="Epoch">1-based DQA epoch.</param>
/// <param name="Vertex">The vertex.</param>
/// <param name="Bits">The branches' bitwidths.</param>
/// <param name="Attention">The branch weights used at the end of the epoch.</param>
public sealed record BranchAttention(int Epoch, string Vertex, IReadOnlyList<int> Bits, IReadOnlyList<double> Attention);

/// <summary>One stage of automatic quantization (FP32, QSS, QPL, DQA, fine-tuning).</summary>
/// <param name="Stage">The stage's name.</param>
/// <param name="Epochs">Epochs run in this process (resumed ones are not counted).</param>
/// <param name="SecondsPerEpoch">Mean wall time of those epochs; 0 if none ran.</param>
public sealed record StageRecord(string Stage, int Epochs, double SecondsPerEpoch);

/// <summary>
/// What automatic quantization chose: the scheme, bits, size of each layer, the average bitwidths, and the
/// history of the search. <see cref="FromGraph"/> rebuilds the per-layer part from any quantized graph, so a
/// loaded model reports it too (its history is empty).
/// </summary>
public sealed class QuantizationReport
{
    /// <summary>One entry per expensive layer, in graph order.</summary>
    public IReadOnlyList<LayerQuantization> Layers { get; init; } = Array.Empty<LayerQuantization>();

    /// <summary>Average weight bitwidth, weighted by weight count, the 8-bit first and last layers included.</summary>
    public double AverageWeightBits { get; init; }

    /// <summary>Average activation bitwidth, weighted by values per example, the 8-bit first and last layers included.</summary>
    public double AverageActivationBits { get; init; }

    /// <summary>QSS probabilities per vertex per epoch.</summary>
    public IReadOnlyList<SchemeProbabilities> SchemeHistory { get; init; } = Array.Empty<SchemeProbabilities>();

    /// <summary>QPL bitwidths per vertex per epoch.</summary>
    public IReadOnlyList<LearnedBits> BitHistory { get; init; } = Array.Empty<LearnedBits>();

    /// <summary>DQA attention per vertex per epoch.</summary>
    public IReadOnlyList<BranchAttention> AttentionHistory { get; init; } = Array.Empty<BranchAttention>();

    /// <summary>The stages run, with their epoch times.</summary>
    public IReadOnlyList<StageRecord> Stages { get; init; } = Array.Empty<StageRecord>();

    /// <summary>Mean QSS epoch time over mean FP32 epoch time, where both ran in this process; otherwise null.</summary>
    public double? SearchCostRatio
    {
        get
        {
            var fp32 = Stages.FirstOrDefault(s => s.Stage == AutoQuantizer.Fp32Stage && s.Epochs > 0);
            var search = Stages.FirstOrDefault(s => s.Stage == AutoQuantizer.SearchStage && s.Epochs > 0);
            return fp32 is null || search is null ? null : search.SecondsPerEpoch / fp32.SecondsPerEpoch;
        }
    }

    /// <summary>The per-layer table and averages of a quantized graph (from QAG or automatic quantization).</summary>
    public static QuantizationReport FromGraph(NetworkGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var vertices = QuantizerVertex.Of(graph, new HashSet<string>());
        var layers = graph.Nodes.Where(n => n.WeightQuantizer is not null).Select(node =>
        {
            var weight = vertices.Single(v => v.IsWeight && v.Layer == node.Name);
            var activation = vertices.FirstOrDefault(v => !v.IsWeight && v.Layer == node.Name);
            return new LayerQuantization(node.Name, weight.Spec, weight.Elements, (weight.Elements * weight.Spec.Bits + 7) / 8, activation?.Spec, activation?.Elements ?? 0);
        }).ToList();
        return new QuantizationReport
        {
            Layers = layers,
            AverageWeightBits = Average(vertices.Where(v => v.IsWeight)),
            AverageActivationBits = Average(vertices.Where(v => !v.IsWeight)),
        };
    }

    /// <summary>The average weight bits asked for, where precision learning ran; otherwise null.</summary>
    public double? TargetWeightBits { get; init; }

    /// <summary>The average activation bits asked for, where precision learning ran; otherwise null.</summary>
    public double? TargetActivationBits { get; init; }

    /// <summary>"target W2.00/A2.00, achieved W1.97/A1.95", or only the achieved averages where no target was set.</summary>
    public string Summary => (TargetWeightBits is { } w && TargetActivationBits is { } a ? $"target W{w:F2}/A{a:F2}, " : "")
        + $"achieved W{AverageWeightBits:F2}/A{AverageActivationBits:F2}";

    /// <summary>A copy with the search history, stage records and targets added.</summary>
    internal QuantizationReport With(IReadOnlyList<SchemeProbabilities> schemes, IReadOnlyList<LearnedBits> bits, IReadOnlyList<BranchAttention> attention,
        IReadOnlyList<StageRecord> stages, (double Weights, double Activations)? targets) => new()
    {
        Layers = Layers,
        AverageWeightBits = AverageWeightBits,
        AverageActivationBits = AverageActivationBits,
        SchemeHistory = schemes,
        BitHistory = bits,
        AttentionHistory = attention,
        Stages = stages,
        TargetWeightBits = targets?.Weights,
        TargetActivationBits = targets?.Activations,
    };

    /// <summary>One line per layer (its share of the weights included), the averages, and the targets where set.</summary>
    public override string ToString()
    {
        double weights = Math.Max(1, Layers.Sum(l => (double)l.WeightCount));
        return string.Join("\n", Layers.Select(l => $"{l.Layer,-12} W {l.Weights,-14} {l.WeightCount,9:N0} weights ({l.WeightCount / weights,6:P1}) {l.WeightBytes,8:N0} B   A {(l.Activations?.ToString() ?? "-"),-12} {l.ActivationCount,9:N0} values"))
            + $"\naverage bits: weights {AverageWeightBits:F3}, activations {AverageActivationBits:F3}; {Summary}";
    }

    private static double Average(IEnumerable<QuantizerVertex> vertices)
    {
        var list = vertices.ToList();
        long total = list.Sum(v => v.Elements);
        return total == 0 ? 0 : list.Sum(v => (double)v.Elements * v.Spec.Bits) / total;
    }
}
