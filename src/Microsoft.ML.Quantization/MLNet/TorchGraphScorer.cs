using Microsoft.ML.Quantization.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.MLNet;

/// <summary>
/// Scores one example at a time with a trained <see cref="GraphModule"/> in eval mode (the fake-quantized
/// TorchSharp forward). Calls are serialised, so one scorer can back many prediction engines.
/// </summary>
internal sealed class TorchGraphScorer
{
    private readonly object gate = new();

    public TorchGraphScorer(GraphModule module, float inputScale)
    {
        Module = module;
        InputScale = inputScale;
        module.eval();
    }

    public GraphModule Module { get; }

    public float InputScale { get; }

    /// <summary>Writes the class probabilities of one image (scaled by <see cref="InputScale"/>) into <paramref name="probabilities"/>.</summary>
    public void Score(float[] input, float[] probabilities) => Score(() => tensor(input) * InputScale, probabilities);

    /// <summary>Writes the class probabilities of one sequence of token ids into <paramref name="probabilities"/>.</summary>
    public void Score(long[] tokens, float[] probabilities) => Score(() => tensor(tokens), probabilities);

    private void Score(Func<Tensor> input, float[] probabilities)
    {
        var shape = Module.Graph.InputShape.Select(d => (long)d).Prepend(1L).ToArray();
        lock (gate)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var p = nn.functional.softmax(Module.call(input().reshape(shape)), 1).reshape(-1);
            p.data<float>().CopyTo(probabilities);
        }
    }
}
