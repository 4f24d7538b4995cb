using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Training.Layers;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Training.Layers;

public class QuantEmbeddingTests
{
    [Theory]
    [InlineData(QuantizationScheme.PotQ, 3, QuantizationGranularity.PerOutputChannel)]
    [InlineData(QuantizationScheme.Binary, 1, QuantizationGranularity.PerOutputChannel)]
    [InlineData(QuantizationScheme.ZoomQ, 2, QuantizationGranularity.PerTensor)]
    public void LookupsMatchTheWholeQuantizedTableBitForBitWithItsGradient(QuantizationScheme scheme, int bits, QuantizationGranularity granularity)
    {
        random.manual_seed(7);
        var spec = new QuantizerSpec(scheme, bits, granularity);
        var graph = new NetworkGraphBuilder(12).Embedding("embedding", 500, 16).Flatten("flatten").Linear("fc", 2).Build();
        var node = graph.Nodes.Single(n => n.Name == "embedding") with { WeightQuantizer = spec };
        using var layer = new QuantEmbedding("embedding", node, FixedQuantizers.Instance);
        layer.train();
        var ids = randint(0, 500, new long[] { 6, 12 }, dtype: int64);
        ids[0, 0] = ids[5, 11]; // a repeated token
        var weight = layer.parameters().Single();
        var output = layer.call(ids);
        var upstream = randn(output.shape);
        (output * upstream).sum().backward();
        var gradient = weight.grad!.clone();

        // The reference: the whole table quantized, then looked up.
        weight.grad!.zero_();
        var table = SchemeMath.For(scheme).Quantize(weight, bits, granularity, training: true);
        var expected = table.index_select(0, ids.reshape(-1)).reshape(6, 12, 16);
        (expected * upstream).sum().backward();
        Assert.True(output.eq(expected).all().item<bool>(), "values differ");
        Assert.True(gradient.eq(weight.grad!).all().item<bool>(), "gradients differ");
        Assert.True(gradient.abs().sum().item<float>() > 0);

        // Eval mode, where a fixed quantizer caches the quantized table: batches with other tokens still look up that table.
        layer.eval();
        using var _ = no_grad();
        foreach (var batch in new[] { ids, randint(0, 500, new long[] { 9, 12 }, dtype: int64) })
        {
            var looked = layer.call(batch);
            var reference = table.detach().index_select(0, batch.reshape(-1)).reshape(batch.shape[0], 12, 16);
            Assert.True(looked.eq(reference).all().item<bool>(), "eval values differ");
        }
    }
}
