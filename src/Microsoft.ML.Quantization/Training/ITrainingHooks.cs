using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Training;

/// <summary>
/// What a search stage adds to <see cref="GraphTrainer"/>: its parameters (the module's "search." ones,
/// trained by their own Adam), a schedule that follows the progress, an extra loss term, a look at the gradients, a record per
/// epoch, and that record's persistence in the stage checkpoint.
/// </summary>
internal interface ITrainingHooks
{
    /// <summary>Learning rate of the search parameters' Adam optimizer in a stage of <paramref name="steps"/> batches.</summary>
    double SearchLearningRate(long steps);

    /// <summary>Called before every batch with the epochs done in this stage (fractional, from 0) and their share of the stage's epochs (0 to 1).</summary>
    void BeforeBatch(double epochs, double progress);

    /// <summary>An extra term of the training loss, or null.</summary>
    Tensor? Loss();

    /// <summary>Called after every batch's backward pass, before the optimizers step, with the batch's examples.</summary>
    void AfterBackward(long examples);

    /// <summary>Called after every epoch (1-based).</summary>
    void AfterEpoch(int epoch);

    /// <summary>Writes the history recorded so far into a checkpoint.</summary>
    void Save(BinaryWriter writer);

    /// <summary>Reads what <see cref="Save"/> wrote, when resuming.</summary>
    void Load(BinaryReader reader);
}
