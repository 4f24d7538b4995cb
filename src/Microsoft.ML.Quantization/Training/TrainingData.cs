using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Training;

/// <summary>Examples held as tensors: features [N, ...] (float32 pixels or int64 token ids) and labels [N] (int64).</summary>
internal sealed class TrainingData : IDisposable
{
    public TrainingData(Tensor features, Tensor labels)
    {
        if (features.shape[0] != labels.shape[0]) throw new ArgumentException($"{features.shape[0]} examples but {labels.shape[0]} labels.");
        if (features.shape[0] == 0) throw new ArgumentException("The data set is empty.");
        Features = features;
        Labels = labels;
    }

    public Tensor Features { get; }
    public Tensor Labels { get; }
    public long Count => Features.shape[0];

    public void Dispose()
    {
        Features.Dispose();
        Labels.Dispose();
    }
}
