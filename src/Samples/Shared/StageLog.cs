namespace Microsoft.ML.Quantization.Samples;

/// <summary>Which of the library's log messages the samples and benchmarks print when no progress bars are drawn.</summary>
internal static class StageLog
{
    /// <summary>An epoch's line of any stage, the QSS and QPL choices, and the calibration line.</summary>
    public static bool IsStageMessage(string message) =>
        message.Contains(" epoch ") || message.Contains("QSS:") || message.Contains("QPL:") || message.Contains("] Calibrated");
}
