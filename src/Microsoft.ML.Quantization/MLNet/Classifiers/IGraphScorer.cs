using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Serialization;

namespace Microsoft.ML.Quantization.MLNet.Classifiers;

/// <summary>
/// What a classifier transformer scores with: the packed runtime over its <see cref="ExportedModel"/>
/// (<see cref="PackedScorer"/>), or, for a model saved in payload format 1, the legacy torch forward
/// (<see cref="TorchGraphScorer"/>).
/// </summary>
internal interface IGraphScorer
{
    /// <summary>The network.</summary>
    NetworkGraph Graph { get; }

    /// <summary>The exported network that quantizing, saving and ONNX export read; null for a format-1 model, which holds none.</summary>
    ExportedModel? Model { get; }

    /// <summary>Writes class probabilities for one example given in the graph's input layout (pixels, or token ids as floats).</summary>
    void Score(ReadOnlySpan<float> input, float[] probabilities);
}
