using Microsoft.ML.Quantization.Training;
using Spectre.Console;

namespace Microsoft.ML.Quantization.Samples;

/// <summary>
/// Console progress bars for the long stages (FP32 training, QSS, QPL, DQA, fine-tuning): one bar per stage with
/// its epoch, loss, accuracy and ETA, fed by the library's <see cref="TrainingOptions.Progress"/>. On a console that
/// is not interactive (redirected output, CI) nothing is drawn and <see cref="Interactive"/> tells the caller to
/// print the log lines instead.
/// </summary>
internal sealed class StageProgress : IProgress<TrainingProgress>
{
    private readonly Dictionary<string, ProgressTask> bars = new();
    private ProgressContext? context;

    /// <summary>Whether bars are drawn.</summary>
    public bool Interactive { get; } = AnsiConsole.Profile.Capabilities.Interactive;

    /// <summary>Runs <paramref name="work"/> with the bars on screen (when <see cref="Interactive"/>).</summary>
    public T Run<T>(Func<T> work)
    {
        if (!Interactive) return work();
        return AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                context = ctx;
                try { return work(); }
                finally { context = null; }
            });
    }

    /// <inheritdoc/>
    public void Report(TrainingProgress value)
    {
        if (context is null) return;
        if (!bars.TryGetValue(value.Stage, out var bar))
        {
            bar = context.AddTask(value.Stage, maxValue: (double)value.Epochs * value.Batches);
            bars[value.Stage] = bar;
        }
        bar.Value = (double)(value.Epoch - 1) * value.Batches + value.Batch;
        bar.Description = Markup.Escape($"{value.Stage} {value.Epoch}/{value.Epochs} loss {value.Loss:F3} acc {value.Accuracy:P1} ETA {value.Remaining:mm\\:ss}");
    }
}
