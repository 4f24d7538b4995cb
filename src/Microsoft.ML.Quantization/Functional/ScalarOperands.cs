using TorchSharp;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Functional;

/// <summary>
/// Tensor operations with a number operand, each holding the number's libtorch Scalar until the call returns.
/// TorchSharp 0.107 reads a Scalar's native handle and then lets the Scalar go, so the temporary that an implicit
/// conversion makes (<c>x / 2</c>, <c>x.clamp_min(0)</c>) can be finalized on the finalizer thread while libtorch
/// still reads it: "Unknown scalar type" or a crash in <c>Scalar::toDouble</c> (dotnet/TorchSharp#1434). TorchSharp
/// makes such temporaries itself too: <c>add(Tensor)</c>, <c>add(Scalar)</c> and the + operator convert an alpha of 1,
/// <c>square()</c> an exponent of 2, <c>arange(stop)</c> its start and step. The library hands numbers to torch, and
/// adds tensors, only through here; a test reads every method body, and those of the TorchSharp methods it calls three
/// deep, and fails on any other conversion. The library's BatchNorm is its own (<c>CountedBatchNorm</c>) for the same
/// reason; beyond the check's reach stay the optimizers' steps and PReLU's constructor, which TorchSharp runs itself.
/// </summary>
internal static class ScalarOperands
{
    // Held for the life of the process: an alpha or step of 1 and a start of 0 that no finalizer can take mid-call.
    private static readonly Scalar One = 1.ToScalar(), Zero = 0.ToScalar();

    /// <summary>x + y.</summary>
    public static Tensor Plus(this Tensor x, Tensor y) => x.add(y, One);

    /// <summary>x += y.</summary>
    public static Tensor PlusInPlace(this Tensor x, Tensor y) => x.add_(y, One);

    /// <summary>x², as x · x (the values of torch's square, which pows by a Scalar of 2 it converts).</summary>
    public static Tensor Squared(this Tensor x) => x.mul(x);

    /// <summary>x + value.</summary>
    public static Tensor Plus(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.add(s, One);
    }

    /// <summary>x − value.</summary>
    public static Tensor Minus(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.sub(s);
    }

    /// <summary>x − value, an integer tensor staying integer.</summary>
    public static Tensor Minus(this Tensor x, long value)
    {
        using var s = value.ToScalar();
        return x.sub(s);
    }

    /// <summary>x · value.</summary>
    public static Tensor Times(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.mul(s);
    }

    /// <summary>x · value, an integer tensor staying integer.</summary>
    public static Tensor Times(this Tensor x, long value)
    {
        using var s = value.ToScalar();
        return x.mul(s);
    }

    /// <summary>x / value (true division).</summary>
    public static Tensor Over(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.div(s);
    }

    /// <summary>x += value, an integer tensor staying integer.</summary>
    public static Tensor PlusInPlace(this Tensor x, long value)
    {
        using var s = value.ToScalar();
        return x.add_(s, One);
    }

    /// <summary>x in place plus value.</summary>
    public static Tensor PlusInPlace(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.add_(s, One);
    }

    /// <summary>max(x, low): <c>clamp_min</c>, whose gradient passes where x ≥ low.</summary>
    public static Tensor ClampMin(this Tensor x, double low)
    {
        using var s = low.ToScalar();
        return x.clamp_min(s);
    }

    /// <summary>min(x, high): <c>clamp_max</c>, whose gradient passes where x ≤ high.</summary>
    public static Tensor ClampMax(this Tensor x, double high)
    {
        using var s = high.ToScalar();
        return x.clamp_max(s);
    }

    /// <summary>x clamped to [low, high].</summary>
    public static Tensor Clamp(this Tensor x, double low, double high)
    {
        using var l = low.ToScalar();
        using var h = high.ToScalar();
        return x.clamp(l, h);
    }

    /// <summary>x clamped to [low, high] in place.</summary>
    public static Tensor ClampInPlace(this Tensor x, double low, double high)
    {
        using var l = low.ToScalar();
        using var h = high.ToScalar();
        return x.clamp_(l, h);
    }

    /// <summary>x filled with value in place.</summary>
    public static Tensor FillInPlace(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.fill_(s);
    }

    /// <summary>The mask x ≥ value.</summary>
    public static Tensor AtLeast(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.ge(s);
    }

    /// <summary>The mask x ≥ value, an integer tensor compared as integers.</summary>
    public static Tensor AtLeast(this Tensor x, long value)
    {
        using var s = value.ToScalar();
        return x.ge(s);
    }

    /// <summary>The mask x &gt; value.</summary>
    public static Tensor Above(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.gt(s);
    }

    /// <summary>The mask x &lt; value.</summary>
    public static Tensor Below(this Tensor x, double value)
    {
        using var s = value.ToScalar();
        return x.lt(s);
    }

    /// <summary>The mask x &lt; value, an integer tensor compared as integers.</summary>
    public static Tensor Below(this Tensor x, long value)
    {
        using var s = value.ToScalar();
        return x.lt(s);
    }

    /// <summary>A tensor of <paramref name="count"/> copies of value.</summary>
    public static Tensor Full(long count, double value, ScalarType dtype, Device? device = null)
    {
        using var s = value.ToScalar();
        return full(count, s, dtype, device);
    }

    /// <summary>A tensor shaped like x, every element value.</summary>
    public static Tensor FullLike(Tensor x, double value)
    {
        using var s = value.ToScalar();
        return full_like(x, s);
    }

    /// <summary>0, 1, …, count − 1.</summary>
    public static Tensor Range(long count, ScalarType dtype, Device? device = null)
    {
        using var s = count.ToScalar();
        return arange(Zero, s, One, dtype, device);
    }

    /// <summary>start, start + step, … below stop.</summary>
    public static Tensor Range(long start, long stop, long step, ScalarType dtype, Device? device = null)
    {
        using var a = start.ToScalar();
        using var b = stop.ToScalar();
        using var c = step.ToScalar();
        return arange(a, b, c, dtype, device);
    }
}
