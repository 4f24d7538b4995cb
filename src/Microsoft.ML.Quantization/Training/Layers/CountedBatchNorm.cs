using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>
/// TorchSharp's BatchNorm, with its parameters, buffers and state names, whose training forward counts batches without a
/// Scalar temporary. TorchSharp 0.107's own forward adds a converted 1 to <c>num_batches_tracked</c> at every training
/// batch, and reads the count through another where the momentum is null (the cumulative average of re-estimation); the
/// finalizer may free either while libtorch reads it (see <see cref="ScalarOperands"/>). The same operations otherwise:
/// batch statistics in training, running ones in evaluation.
/// </summary>
internal sealed class CountedBatchNorm : TorchSharp.Modules.BatchNorm
{
    private readonly bool map;

    /// <summary>A BatchNorm2d over [N, C, H, W] where <paramref name="map"/>, else a BatchNorm1d over [N, C] or [N, C, L]; momentum 0.1, affine, tracking running statistics.</summary>
    public CountedBatchNorm(long features, double eps, bool map)
        : base(features, eps, 0.1, true, true, null, null, map ? "BatchNorm2d" : "BatchNorm1d") => this.map = map;

    /// <inheritdoc/>
    protected override void ValidateInputDimensions(Tensor input)
    {
        if (map ? input.dim() != 4 : input.dim() is not (2 or 3))
            throw new ArgumentException($"A {(map ? "BatchNorm2d" : "BatchNorm1d")} takes {(map ? "4" : "2 or 3")} dimensions, not {input.dim()}.", nameof(input));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor input)
    {
        ValidateInputDimensions(input);
        double factor = momentum ?? 0.0;
        if (training && track_running_stats && num_batches_tracked is not null)
        {
            num_batches_tracked.PlusInPlace(1);
            if (momentum is null) factor = 1.0 / num_batches_tracked.item<long>();
        }
        bool batchStatistics = training || (running_mean is null && running_var is null);
        bool running = !training || track_running_stats;
        return functional.batch_norm(input, running ? running_mean : null, running ? running_var : null, weight, bias, batchStatistics, factor, eps);
    }
}
