using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>Embedding whose table passes through the node's weight quantizer (per row, one row per token).</summary>
internal sealed class QuantEmbedding : Module<Tensor, Tensor>
{
    private readonly Embedding embedding;
    private readonly WeightQuantization weightQuantizer;

    public QuantEmbedding(string name, GraphNode node) : base(name)
    {
        embedding = Embedding(node.Vocabulary, node.Units);
        weightQuantizer = new WeightQuantization(node.WeightQuantizer);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids)
    {
        var table = weightQuantizer.Apply(embedding.weight!, training);
        return table.index_select(0, ids.reshape(-1)).reshape(ids.shape[0], ids.shape[1], -1);
    }
}
