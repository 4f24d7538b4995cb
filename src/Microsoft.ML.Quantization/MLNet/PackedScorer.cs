using System.Buffers;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Serialization;

namespace Microsoft.ML.Quantization.MLNet;

/// <summary>Scores with the torch-free <see cref="PackedNetwork"/>: scales the input, runs the network, applies softmax.</summary>
internal sealed class PackedScorer : IGraphScorer
{
    public PackedScorer(PackedNetwork network, float inputScale)
    {
        Network = network;
        InputScale = inputScale;
    }

    public PackedNetwork Network { get; }

    public float InputScale { get; }

    public NetworkGraph Graph => Network.Graph;

    public ushort FormatVersion => PayloadContainer.CurrentVersion;

    public void Score(ReadOnlySpan<float> input, float[] probabilities)
    {
        var scaled = ArrayPool<float>.Shared.Rent(input.Length);
        try
        {
            for (int i = 0; i < input.Length; i++)
            {
                // Quantizers would map NaN to an arbitrary level and an FP32 net would return NaN scores: refuse it.
                if (float.IsNaN(input[i])) throw new ArgumentException($"The input holds NaN at index {i}; scores need numbers (±∞ is clipped by the quantizers).", nameof(input));
                scaled[i] = input[i] * InputScale;
            }
            Network.Score(scaled.AsSpan(0, input.Length), probabilities);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(scaled);
        }
        Softmax(probabilities);
    }

    public void Write(BinaryWriter writer) => ExportedModelFormat.Write(writer, Network.Model);

    /// <summary>Writes the FP32 network as ONNX (input scaling included); quantized networks are refused.</summary>
    public static void WriteOnnx(IGraphScorer scorer, Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (scorer is not PackedScorer packed) throw new NotSupportedException("This model was saved in format 1; load it, save it again, and export the reloaded model.");
        destination.Write(Serialization.Onnx.OnnxExporter.Export(packed.Network.Model, packed.InputScale));
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
