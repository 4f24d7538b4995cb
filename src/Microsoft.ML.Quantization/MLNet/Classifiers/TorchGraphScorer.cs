using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.MLNet.Classifiers;

/// <summary>
/// Scores models saved in payload format 1, whose activation quantizers predate calibration: the
/// fake-quantized TorchSharp forward in eval mode, one example at a time (so it needs TorchSharp's native
/// library). Calls are serialised. Saving such a model writes format 1 again, unchanged.
/// </summary>
internal sealed class TorchGraphScorer : IGraphScorer
{
    private readonly object gate = new();
    private readonly GraphModule module;
    private readonly float inputScale;

    public TorchGraphScorer(GraphModule module, float inputScale)
    {
        this.module = module;
        this.inputScale = inputScale;
        module.eval();
    }

    public NetworkGraph Graph => module.Graph;

    /// <summary>Format 1 holds a TorchSharp state, not an exported network.</summary>
    public ExportedModel? Model => null;

    public void Score(ReadOnlySpan<float> input, float[] probabilities)
    {
        var shape = Graph.InputShape.Select(d => (long)d).Prepend(1L).ToArray();
        bool tokens = Graph.Nodes[0].Kind == NodeKind.Embedding;
        var values = input.ToArray();
        lock (gate)
        {
            using var _ = no_grad();
            using var scope = NewDisposeScope();
            var x = tokens ? tensor(values).to(int64) : tensor(values).Times(inputScale);
            var p = nn.functional.softmax(module.call(x.reshape(shape)), 1).reshape(-1);
            p.data<float>().CopyTo(probabilities);
        }
    }

    /// <summary>Writes the graph and the TorchSharp state, as format 1 stored them.</summary>
    public void Write(BinaryWriter writer)
    {
        writer.Write(GraphSerializer.Write(Graph));
        module.save(writer);
    }

    /// <summary>Reads what <see cref="Write"/> wrote. The format-1 state has no calibration buffers, so they are not required.</summary>
    public static TorchGraphScorer Read(BinaryReader reader, float inputScale)
    {
        // Built under the initialisation lock: its throw-away initial weights must not disturb a seeded one elsewhere.
        var graph = GraphSerializer.Read(reader.ReadString());
        var module = TrainingRandom.Seeded(0, () => new GraphModule(graph));
        module.load(reader, strict: false);
        return new TorchGraphScorer(module, inputScale);
    }
}
