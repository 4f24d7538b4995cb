using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>Embedding whose table passes through the node's weight quantizer (per row, one row per token).</summary>
internal sealed class QuantEmbedding : Module<Tensor, Tensor>
{
    private readonly Embedding embedding;
    private readonly Module<Tensor, Tensor>? weight_quantizer;

    public QuantEmbedding(string name, GraphNode node, IQuantizerFactory quantizers) : base(name)
    {
        embedding = Embedding(node.Vocabulary, node.Units);
        weight_quantizer = quantizers.Weight(node);
        RegisterComponents();
    }

    private Tensor Quantized(Tensor weight) => weight_quantizer is null ? weight : weight_quantizer.call(weight);

    public override Tensor forward(Tensor ids)
    {
        var table = Quantized(embedding.weight!);
        return table.index_select(0, ids.reshape(-1)).reshape(ids.shape[0], ids.shape[1], -1);
    }
}
