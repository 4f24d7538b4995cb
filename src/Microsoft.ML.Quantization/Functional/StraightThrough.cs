using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Functional;

/// <summary>Straight-through estimators shared by every quantizer.</summary>
internal static class StraightThrough
{
    /// <summary>
    /// Returns q in the forward pass and passes the gradient of x through (times mask where given).
    /// Written as q + (x − x̂)·mask with x̂ = x detached, so the forward value is q exactly, not x + (q − x).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor q, Tensor? mask)
    {
        var identity = x - x.detach();
        return q.detach().Plus(mask is null ? identity : identity * mask);
    }
}
