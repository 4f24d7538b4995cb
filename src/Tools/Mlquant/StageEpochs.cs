using Microsoft.ML.Quantization.Search;

namespace Microsoft.ML.Quantization.Tools.Mlquant;

/// <summary>
/// Stage epochs for a user's data set. The library's defaults (one search epoch, one precision epoch, two of
/// fine-tuning) assume thousands of examples: a VggSmall search epoch on Fashion-MNIST is 469 batches. On a few hundred
/// images an epoch is a handful of steps, too few for the search to choose and for BatchNorm's running averages to
/// follow the weights: ResNet20 on 72 grey images, 3 batches a stage, calibrated to chance on one seed and to 100 % on
/// another.
/// </summary>
internal static class StageEpochs
{
    /// <summary>The fewest batches each stage runs.</summary>
    public const int MinimumSteps = 60;

    /// <summary>
    /// Raises each stage of <paramref name="options"/> to at least <see cref="MinimumSteps"/> batches of its training batch
    /// size over <paramref name="examples"/>; the search's temperature falls over all its epochs as it does over one.
    /// </summary>
    public static AutoQuantizationOptions AtLeastMinimumSteps(AutoQuantizationOptions options, long examples)
    {
        int batchSize = options.Training?.BatchSize ?? new Training.TrainingOptions().BatchSize;
        long batches = Math.Max(1, (examples + batchSize - 1) / batchSize);
        int Raise(int epochs) => epochs == 0 ? 0 : Math.Max(epochs, (int)((MinimumSteps + batches - 1) / batches));
        int searchEpochs = options.SearchEpochs;
        options.SearchEpochs = Raise(options.SearchEpochs);
        options.PrecisionEpochs = Raise(options.PrecisionEpochs);
        options.FineTuneEpochs = Raise(options.FineTuneEpochs);
        if (options.SearchEpochs > searchEpochs) options.Search.TemperatureDecay = Math.Pow(options.Search.TemperatureDecay, (double)searchEpochs / options.SearchEpochs);
        return options;
    }
}
