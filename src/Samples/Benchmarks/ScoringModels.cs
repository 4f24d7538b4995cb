using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.MLNet.Data;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>
/// The networks the scoring benchmarks measure, each with its inputs: the 28×28 and 32×32 ones this library trains, and a
/// ResNet18-style network at 3×224×224, the layer shapes real image models run. Weights are seeded random: speed does not
/// depend on training.
/// </summary>
internal static class ScoringModels
{
    /// <summary>Every model's name, in the order the reports list them.</summary>
    public static readonly string[] Names = { "VggSmall", "ResNet20", "TextLstm", "ResNet18" };

    /// <summary>The graph of <paramref name="name"/> and its inputs (256 examples; 64 for ResNet18, a batch's worth).</summary>
    public static (NetworkGraph Graph, float[][] Inputs) Get(string name, string imageSubset) => name switch
    {
        "VggSmall" => (NetworkGraphs.VggSmall(), IdxReader.ReadImages(imageSubset).Images.Take(256).Select(i => i.Select(b => b / 255f).ToArray()).ToArray()),
        "ResNet20" => (NetworkGraphs.ResNet20(), RandomImages(256, 3 * 32 * 32, seed: 5)),
        "TextLstm" => (NetworkGraphs.TextLstm(20_000, 128), Tokens()),
        "ResNet18" => (NetworkGraphs.ResNet18(), RandomImages(64, 3 * 224 * 224, seed: 7)),
        _ => throw new UsageException($"unknown model '{name}'; models: {string.Join(", ", Names)}"),
    };

    /// <summary>256 seeded random texts of 128 token ids from a 20,000-word vocabulary (speed does not depend on the words).</summary>
    internal static float[][] Tokens()
    {
        var random = new Random(6);
        return Enumerable.Range(0, 256).Select(_ => Enumerable.Range(0, 128).Select(_ => (float)random.Next(2, 20_000)).ToArray()).ToArray();
    }

    private static float[][] RandomImages(int count, int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, length).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();
    }
}
