using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>Embedding whose table passes through the node's weight quantizer (per row, one row per token).</summary>
internal sealed class QuantEmbedding : Module<Tensor, Tensor>
{
    private readonly Embedding embedding;
    private readonly Module<Tensor, Tensor>? weight_quantizer;
    private readonly bool perRow;

    public QuantEmbedding(string name, GraphNode node, IQuantizerFactory quantizers) : base(name)
    {
        embedding = Embedding(node.Vocabulary, node.Units);
        weight_quantizer = quantizers.Weight(node);
        perRow = node.WeightQuantizer?.Granularity == QuantizationGranularity.PerOutputChannel;
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids)
    {
        var flat = ids.reshape(-1);
        Tensor rows;
        if (weight_quantizer is null) rows = embedding.weight!.index_select(0, flat);
        else if (!perRow || !training) rows = weight_quantizer.call(embedding.weight!).index_select(0, flat); // eval: quantizers cache the whole table
        else
        {
            // Each row has its own grid, so quantizing only the rows of this batch gives them exactly, without the
            // cost of the whole table (a search mixes eight schemes over it every batch).
            var (used, inverse, _) = flat.unique(sorted: true, return_inverse: true);
            rows = weight_quantizer.call(embedding.weight!.index_select(0, used)).index_select(0, inverse!);
        }
        return rows.reshape(ids.shape[0], ids.shape[1], -1);
    }
}
