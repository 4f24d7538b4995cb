namespace Microsoft.ML.Quantization.Training;

/// <summary>The optimizer of a training run.</summary>
public enum OptimizerKind
{
    /// <summary>SGD with momentum.</summary>
    Sgd,
    /// <summary>Adam.</summary>
    Adam,
}

/// <summary>How the learning rate changes over the epochs.</summary>
public enum LearningRateSchedule
{
    /// <summary>The same rate every epoch.</summary>
    Constant,
    /// <summary>Cosine decay from the initial rate to zero over the run.</summary>
    Cosine,
    /// <summary>Divided by 10 at half and at three quarters of the run.</summary>
    Step,
}

/// <summary>Options of a training run (epochs, optimizer, schedule, seed, device, checkpoints, progress).</summary>
public class TrainingOptions
{
    /// <summary>Passes over the training data. Default 10.</summary>
    public int Epochs { get; set; } = 10;

    /// <summary>Examples per batch. Default 64.</summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>The optimizer. Default <see cref="OptimizerKind.Adam"/>.</summary>
    public OptimizerKind Optimizer { get; set; } = OptimizerKind.Adam;

    /// <summary>Initial learning rate. Default 1e-3.</summary>
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Momentum of SGD. Default 0.9.</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>L2 weight decay. Default 0.</summary>
    public double WeightDecay { get; set; }

    /// <summary>Learning-rate schedule. Default <see cref="LearningRateSchedule.Cosine"/>.</summary>
    public LearningRateSchedule Schedule { get; set; } = LearningRateSchedule.Cosine;

    /// <summary>Seed of initialisation, shuffling and dropout: the same seed repeats a run. Default 1.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>TorchSharp device: "cpu" (default) or "cuda" where TorchSharp-cuda is referenced.</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>Directory for per-epoch checkpoints; a run restarted with the same directory resumes after its last finished epoch. Default null (none).</summary>
    public string? CheckpointDirectory { get; set; }

    /// <summary>Receives progress after every batch. Default null.</summary>
    public IProgress<TrainingProgress>? Progress { get; set; }

    /// <summary>Epochs of the schedule run before this run's first epoch, when it is one stage of several (see <see cref="ForStage"/>).</summary>
    internal int ScheduleOffset { get; init; }

    /// <summary>Epochs the schedule spans; 0 for this run's own <see cref="Epochs"/>.</summary>
    internal int ScheduleEpochs { get; init; }

    /// <summary>
    /// A copy of the training settings (this class's own) for a stage of <paramref name="epochs"/> epochs that
    /// continues one schedule of <paramref name="scheduleEpochs"/> epochs after <paramref name="scheduleOffset"/>
    /// of them, so consecutive stages do not each restart at the full rate (0 and 0: the stage's own schedule).
    /// </summary>
    internal TrainingOptions ForStage(int epochs, int scheduleOffset = 0, int scheduleEpochs = 0) => new()
    {
        Epochs = epochs, BatchSize = BatchSize, Optimizer = Optimizer, LearningRate = LearningRate, Momentum = Momentum, WeightDecay = WeightDecay,
        Schedule = Schedule, Seed = Seed, Device = Device, CheckpointDirectory = CheckpointDirectory, Progress = Progress,
        ScheduleOffset = scheduleOffset, ScheduleEpochs = scheduleEpochs,
    };

    /// <summary>The learning rate of this run's 1-based <paramref name="epoch"/>.</summary>
    internal double RateAt(int epoch)
    {
        int t = ScheduleOffset + epoch - 1, total = Math.Max(1, ScheduleEpochs > 0 ? ScheduleEpochs : Epochs);
        return Schedule switch
        {
            LearningRateSchedule.Cosine => LearningRate * 0.5 * (1 + Math.Cos(Math.PI * t / total)),
            LearningRateSchedule.Step => LearningRate * (t + 1 > total * 3 / 4 ? 0.01 : t + 1 > total / 2 ? 0.1 : 1),
            _ => LearningRate,
        };
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first option out of range.</summary>
    public virtual void Validate()
    {
        if (Epochs < 0) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be ≥ 0.");
        if (BatchSize < 1) throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "The batch size must be ≥ 1.");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "The learning rate must be positive and finite.");
        if (Momentum is < 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1).");
        if (!(WeightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "Weight decay must be ≥ 0.");
        if (string.IsNullOrWhiteSpace(Device)) throw new ArgumentOutOfRangeException(nameof(Device), Device, "Name a device such as \"cpu\".");
    }
}

/// <summary>Progress of a long stage, reported after every batch.</summary>
/// <param name="Stage">What is running, e.g. "FP32 training".</param>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Epochs">Epochs in the stage.</param>
/// <param name="Batch">1-based batch within the epoch.</param>
/// <param name="Batches">Batches per epoch.</param>
/// <param name="Loss">Mean training loss of the epoch so far.</param>
/// <param name="Accuracy">Training accuracy of the epoch so far.</param>
/// <param name="Elapsed">Time since the stage started.</param>
/// <param name="Remaining">Estimated time to the end of the stage.</param>
public sealed record TrainingProgress(string Stage, int Epoch, int Epochs, int Batch, int Batches, double Loss, double Accuracy, TimeSpan Elapsed, TimeSpan Remaining);

/// <summary>One finished epoch.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Loss">Mean training loss.</param>
/// <param name="Accuracy">Training accuracy.</param>
/// <param name="Seconds">Wall time of the epoch.</param>
public sealed record EpochRecord(int Epoch, double Loss, double Accuracy, double Seconds);
