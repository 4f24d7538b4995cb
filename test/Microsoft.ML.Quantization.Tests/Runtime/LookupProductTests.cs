using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Kernels;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Runtime;

/// <summary>A binary linear layer over a long row scores one example through the lookup-table GEMV where it is vectorised (else the int8 kernel), as the TorchSharp forward does.</summary>
public class LookupProductTests
{
    [Fact]
    public void LongBinaryRowsScoreThroughTheLookupGemvLikeTheTorchForward()
    {
        int depth = DenseProduct.LookupMinimumDepth * 2;
        var graph = Qag.Prepare(new NetworkGraphBuilder(depth).Linear("fc1", 96).ReLU("relu1").Linear("fc2", 10).Build(), new QagOptions
        {
            Weights = new QuantizerSpec(QuantizationScheme.Binary, 1, QuantizationGranularity.PerOutputChannel),
            Activations = new QuantizerSpec(QuantizationScheme.ClipQ, 2),
            KeepFirstAndLastAt8Bits = false,
        });
        using var scope = NewDisposeScope();
        var inputs = Enumerable.Range(0, 64).Select(i => { var r = new Random(i); return Enumerable.Range(0, depth).Select(_ => (float)r.NextDouble()).ToArray(); }).ToArray();
        var batch = tensor(inputs.SelectMany(x => x).ToArray()).reshape(inputs.Length, depth);
        var module = TrainingRandom.Seeded(3, () => new GraphModule(graph));
        module.Calibrate(batch);
        module.eval();
        var network = new PackedNetwork(ModelExporter.Export(module));
        // Only where the GEMV has its vector path (AVX-512; the no-AVX-512 CI leg checks the int8 kernel is kept).
        Assert.Equal(LookupGemv.IsAccelerated, network.Kernels.Any(k => k.Node == "fc1" && k.Kernel.Contains("lookup GEMV", StringComparison.Ordinal)));

        float[] expected;
        using (no_grad()) expected = module.call(batch).contiguous().data<float>().ToArray();
        var logits = new float[network.OutputLength];
        for (int i = 0; i < inputs.Length; i++)
        {
            network.Score(inputs[i], logits);
            float magnitude = Math.Max(1e-6f, expected.Skip(10 * i).Take(10).Max(Math.Abs));
            for (int o = 0; o < 10; o++) Assert.True(Math.Abs(logits[o] - expected[10 * i + o]) <= 1e-4 * magnitude, $"example {i}, logit {o}: {logits[o]} vs {expected[10 * i + o]}");
        }
    }
}
