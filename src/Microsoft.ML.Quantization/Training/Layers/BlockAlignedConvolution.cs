using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>
/// A 2-D convolution that hands libtorch's oneDNN only channel counts that fill its 16-channel blocks: zero output
/// channels (sliced off again) and, past a first layer's 1 or 3, zero input channels. On a 2026 AMD Zen 5 host, libtorch
/// 2.10's oneDNN 3.7.1 summed garbage over the padding of partly filled blocks: input gradients of convolutions whose
/// output channels were not a multiple of 16 came out wrong (NaN at times), and so did the outputs of one with 24 input
/// channels (see <c>BlockAlignedConvolutionTests</c>). Zero channels add exact zeros, so the result and its gradients are
/// those of the plain convolution; grouped convolutions, which that bug spared, run as they are.
/// </summary>
internal static class BlockAlignedConvolution
{
    /// <summary>The channel block of oneDNN's widest (AVX-512) FP32 convolution; a multiple of the AVX2 block of 8.</summary>
    public const int Block = 16;

    /// <summary><c>conv2d(x, weight, bias)</c> with square stride and padding, computed on block-aligned channels.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, long stride, long padding, long groups)
    {
        long outChannels = weight.shape[0], inChannels = weight.shape[1];
        long outPad = groups == 1 ? Pad(outChannels) : 0;
        // oneDNN reads 1 or 3 input channels unblocked (its first-layer kernels); other counts in blocks.
        long inPad = groups == 1 && inChannels is not (1 or 3) ? Pad(inChannels) : 0;
        if (outPad == 0 && inPad == 0) return functional.conv2d(x, weight, bias, new[] { stride, stride }, new[] { padding, padding }, groups: groups);

        using var scope = NewDisposeScope();
        var w = weight;
        if (inPad > 0)
        {
            w = cat(new[] { w, zeros(outChannels, inPad, w.shape[2], w.shape[3], dtype: w.dtype, device: w.device) }, 1);
            x = cat(new[] { x, zeros(x.shape[0], inPad, x.shape[2], x.shape[3], dtype: x.dtype, device: x.device) }, 1);
        }
        if (outPad > 0) w = cat(new[] { w, zeros(outPad, w.shape[1], w.shape[2], w.shape[3], dtype: w.dtype, device: w.device) }, 0);
        var b = bias is null || outPad == 0 ? bias : cat(new[] { bias, zeros(outPad, dtype: bias.dtype, device: bias.device) }, 0);
        var y = functional.conv2d(x, w, b, new[] { stride, stride }, new[] { padding, padding });
        return (outPad > 0 ? y.narrow(1, 0, outChannels).contiguous() : y).MoveToOuterDisposeScope();
    }

    private static long Pad(long channels) => (Block - channels % Block) % Block;
}
