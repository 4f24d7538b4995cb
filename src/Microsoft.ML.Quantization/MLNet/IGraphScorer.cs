namespace Microsoft.ML.Quantization.MLNet;

/// <summary>What a classifier transformer scores with and saves: the packed runtime, or the legacy torch forward of format-1 models.</summary>
internal interface IGraphScorer
{
    /// <summary>The network.</summary>
    NetworkGraph Graph { get; }

    /// <summary>Payload format version that <see cref="Write"/> produces.</summary>
    ushort FormatVersion { get; }

    /// <summary>Writes class probabilities for one example given in the graph's input layout (pixels, or token ids as floats).</summary>
    void Score(ReadOnlySpan<float> input, float[] probabilities);

    /// <summary>Writes the network's state.</summary>
    void Write(BinaryWriter writer);
}
