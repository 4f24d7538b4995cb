using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Quantization.Search;

namespace Microsoft.ML.Quantization.Samples;

/// <summary>One model a sample scored: test accuracy, average bits, file size and single-example latency.</summary>
/// <param name="Configuration">A label such as "FP32" or "auto W1.98/A2.21".</param>
/// <param name="TestAccuracy">Micro accuracy on the test set.</param>
/// <param name="AverageWeightBits">Element-weighted average weight bits (32 for FP32).</param>
/// <param name="AverageActivationBits">Element-weighted average activation bits (32 for FP32).</param>
/// <param name="ModelBytes">Size of the saved model.zip.</param>
/// <param name="LatencyMilliseconds">Median latency of one prediction through a PredictionEngine, input decoding included.</param>
internal sealed record ConfigurationResult(string Configuration, double TestAccuracy, double AverageWeightBits, double AverageActivationBits, long ModelBytes, double LatencyMilliseconds);

/// <summary>
/// What a sample writes beside model.zip as report.json: every metric of the run and the quantization report,
/// from which <see cref="ModelReport"/> draws the PNGs and the Markdown report.
/// </summary>
internal sealed record SampleReport(string Title, string Command, double Seconds, IReadOnlyList<ConfigurationResult> Results, QuantizationReport Quantization)
{
    /// <summary>The JSON form both sides use: indented, schemes by name, names read in any case (the benchmark files are camel case).</summary>
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNameCaseInsensitive = true, Converters = { new JsonStringEnumConverter() } };

    /// <summary>Writes report.json into <paramref name="directory"/> and returns its path.</summary>
    public string Write(string directory)
    {
        string path = Path.Combine(directory, "report.json");
        File.WriteAllText(path, JsonSerializer.Serialize(this, Json));
        return path;
    }

    /// <summary>Reads a report.json.</summary>
    public static SampleReport Read(string path) =>
        JsonSerializer.Deserialize<SampleReport>(File.ReadAllText(path), Json) ?? throw new InvalidDataException($"'{path}' holds no report.");
}
