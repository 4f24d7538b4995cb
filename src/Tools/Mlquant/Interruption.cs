namespace Microsoft.ML.Quantization.Tools.Mlquant;

/// <summary>
/// What Ctrl+C keeps. The process then stops as it would without this handler: the epoch under way is lost, and no
/// checkpoint is half-written (each is written beside its file and renamed over it), so the same command resumes
/// after the last finished epoch.
/// </summary>
internal static class Interruption
{
    /// <summary>On Ctrl+C, says where the checkpoints under <paramref name="outDir"/> are and how to resume.</summary>
    public static void ExplainResumeOnCtrlC(string outDir) => Console.CancelKeyPress += (_, _) =>
        Console.Error.WriteLine($"\nmlquant: stopped. Every finished epoch is checkpointed under {Path.GetFullPath(Path.Combine(outDir, "checkpoints"))}: run the same command to resume.");
}
