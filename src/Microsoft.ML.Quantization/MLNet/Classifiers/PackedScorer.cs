using System.Buffers;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Serialization;

namespace Microsoft.ML.Quantization.MLNet.Classifiers;

/// <summary>Scores an <see cref="ExportedModel"/> with the torch-free <see cref="PackedNetwork"/> built from it: scales the input, runs the network, applies softmax.</summary>
internal sealed class PackedScorer : IGraphScorer
{
    private readonly PackedNetwork network;
    private readonly float inputScale;

    public PackedScorer(ExportedModel model, float inputScale)
    {
        Model = model;
        network = new PackedNetwork(model);
        this.inputScale = inputScale;
    }

    public ExportedModel Model { get; }

    public NetworkGraph Graph => Model.Graph;

    public void Score(ReadOnlySpan<float> input, float[] probabilities)
    {
        var scaled = ArrayPool<float>.Shared.Rent(input.Length);
        try
        {
            for (int i = 0; i < input.Length; i++)
            {
                // Quantizers would map NaN to an arbitrary level and an FP32 net would return NaN scores: refuse it.
                if (float.IsNaN(input[i])) throw new ArgumentException($"The input holds NaN at index {i}; scores need numbers (±∞ is clipped by the quantizers).", nameof(input));
                scaled[i] = input[i] * inputScale;
            }
            network.Score(scaled.AsSpan(0, input.Length), probabilities);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scaled);
        }
        Softmax(probabilities);
    }

    /// <summary>In-place softmax, shifted by the maximum for stability.</summary>
    private static void Softmax(Span<float> values)
    {
        float max = float.NegativeInfinity;
        foreach (float v in values) max = Math.Max(max, v);
        float sum = 0;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = MathF.Exp(values[i] - max);
            sum += values[i];
        }
        for (int i = 0; i < values.Length; i++) values[i] /= sum;
    }
}
