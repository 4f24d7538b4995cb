using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Training;

/// <summary>Calibration scores every round on its training sample and keeps the best one.</summary>
public class CalibrationTests
{
    [Fact]
    public void CalibrationKeepsTheRoundThatScoredBestOnItsSample()
    {
        random.manual_seed(6);
        var graph = Qag.Prepare(NetworkGraphs.VggSmall(), new QagOptions { Weights = new(QuantizationScheme.ClipQ, 2), Activations = new(QuantizationScheme.ClipQ, 2) });
        using var module = new GraphModule(graph);
        // Fewer examples than the calibration sample, so the sample is the whole set (in another order).
        using var data = new TrainingData(rand(300, 1, 28, 28), randint(0, 10, new long[] { 300 }));
        string? line = null;
        Calibration.Run(module, data, seed: 1, message => { if (message.StartsWith("Calibrated", StringComparison.Ordinal)) line = message; });

        Assert.NotNull(line);
        var kept = int.Parse(Regex.Match(line!, @"kept round (\d+)").Groups[1].Value, CultureInfo.InvariantCulture);
        var rounds = Regex.Matches(line![line!.IndexOf("round 0:", StringComparison.Ordinal)..], @"(\d+(?:[.,]\d+)?)\s?%")
            .Select(m => double.Parse(m.Groups[1].Value.Replace(',', '.'), CultureInfo.InvariantCulture) / 100).ToList();
        // Round 0 (the training statistics), round 1 (statistics re-estimated as trained) and one refit always run.
        Assert.InRange(rounds.Count, 3, Calibration.MaxCalibrationRounds + 2);
        Assert.Equal(rounds.Max(), rounds[kept], 6);
        // A round runs after another only where that one gained: the rounds stop at the first that does not.
        for (int round = 2; round < rounds.Count - 1; round++)
            Assert.True(rounds[round] >= rounds.Take(round).Max() + Calibration.MinRoundGain - 0.0011, $"round {round + 1} ran after round {round}, which gained nothing");
        Assert.True(rounds.Take(kept).All(a => a < rounds[kept]), "the first of equal rounds is kept");
        // The module left behind is the kept round's: it scores that round's accuracy (logged to 0.1 %).
        Assert.Equal(rounds[kept], GraphTrainer.Accuracy(module, data, 256), 3);
    }
}
