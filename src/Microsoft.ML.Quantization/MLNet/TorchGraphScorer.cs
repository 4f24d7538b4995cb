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

    /// <summary>Writes the class probabilities of one example into <paramref name="probabilities"/>.</summary>
    public void Score(float[] input, float[] probabilities)
    {
        var shape = Module.Graph.InputShape.Select(d => (long)d).Prepend(1L).ToArray();
        lock (gate)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var x = tensor(input).reshape(shape) * InputScale;
            var p = nn.functional.softmax(Module.call(x), 1).reshape(-1);
            p.data<float>().CopyTo(probabilities);
        }
    }
}
