using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Functional;

/// <summary>
/// A <see cref="Schemes.QuantizationGrid"/> held as float32 tensors for training: scales [G,1], levels [G,L],
/// thresholds [G,L-1], an optional code order [G,L] and an optional clip range [G,1] in units of scale
/// outside which the straight-through gradient is zero. Encode and decode follow
/// <see cref="Schemes.ReferenceCodec"/> operation for operation.
/// </summary>
internal sealed class GridTensors : IDisposable
{
    /// <summary>Takes ownership of the tensors, converting them to float32 (codes to int64).</summary>
    public GridTensors(int bits, Tensor scales, Tensor levels, Tensor thresholds,
        Tensor? codeOrder = null, Tensor? clipLow = null, Tensor? clipHigh = null)
    {
        Bits = bits;
        // A zero or non-finite scale (an all-zero tensor) would turn x / s into NaN.
        var s = scales.to(float64).reshape(-1, 1);
        Scales = where(s.isfinite() & s.Above(0), s, ones_like(s)).to(float32).DetachFromDisposeScope();
        Levels = levels.to(float32, copy: true).DetachFromDisposeScope();
        Thresholds = thresholds.to(float32, copy: true).contiguous().DetachFromDisposeScope();
        CodeOrder = codeOrder?.to(int64, copy: true).DetachFromDisposeScope();
        ClipLow = clipLow?.to(float32, copy: true).reshape(-1, 1).DetachFromDisposeScope();
        ClipHigh = clipHigh?.to(float32, copy: true).reshape(-1, 1).DetachFromDisposeScope();
    }

    /// <summary>Bits per code.</summary>
    public int Bits { get; }

    /// <summary>Scale per group, [G,1].</summary>
    public Tensor Scales { get; }

    /// <summary>Levels by code in units of scale, [G,L].</summary>
    public Tensor Levels { get; }

    /// <summary>Ascending thresholds in units of scale, [G,L-1].</summary>
    public Tensor Thresholds { get; }

    /// <summary>Code of each interval, [G,L]; null for the identity.</summary>
    public Tensor? CodeOrder { get; }

    /// <summary>Lower end of the clip in units of scale, [G,1]; null where the scheme does not clip.</summary>
    public Tensor? ClipLow { get; }

    /// <summary>Upper end of the clip in units of scale, [G,1]; null where the scheme does not clip.</summary>
    public Tensor? ClipHigh { get; }

    /// <summary>The first level of a uniform grid (code k stands for first + k), [G,1]; null for other grids.</summary>
    private Tensor? UniformFirst { get; init; }

    /// <summary>
    /// A uniform grid whose code k stands for <c>first + k</c>, clipped <paramref name="clipMargin"/>
    /// beyond its end levels.
    /// </summary>
    public static GridTensors Uniform(int bits, Tensor scales, Tensor first, int levelCount, double clipMargin = 0)
    {
        using var scope = NewDisposeScope();
        var f = first.to(float64).reshape(-1, 1);
        var k = ScalarOperands.Range(levelCount, float64, f.device).unsqueeze(0);
        return new GridTensors(bits, scales, f.Plus(k), f.Plus(k[.., ..^1]).Plus(0.5),
            clipLow: f.Minus(clipMargin), clipHigh: f.Plus(levelCount - 1 + clipMargin)) { UniformFirst = f.to(float32).DetachFromDisposeScope() };
    }

    /// <summary>
    /// The uniform grid of 2^bits levels over [lo, hi] (widened to hold 0) with an integer zero point, so
    /// that 0 is exactly representable.
    /// </summary>
    public static GridTensors MinMax(int bits, Tensor lo, Tensor hi)
    {
        using var scope = NewDisposeScope();
        var low = lo.to(float64).ClampMax(0);
        var high = hi.to(float64).ClampMin(0);
        int steps = (1 << bits) - 1;
        var scale = (high - low).Over(steps).ClampMin(1e-30);
        var zeroPoint = (-low / scale).round().Clamp(0, steps);
        return Uniform(bits, scale, -zeroPoint, steps + 1);
    }

    /// <summary>Codes [G,N] (int64) of x [G,N]: the code order at the count of thresholds ≤ x / s.</summary>
    public Tensor Encode(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = x.detach() / Scales;
        var position = Thresholds.shape[1] <= CountingThresholds ? CountAtOrBelow(y) : searchsorted(Thresholds, y, right: true);
        var codes = CodeOrder is null ? position : CodeOrder.gather(1, position);
        return codes.MoveToOuterDisposeScope();
    }

    /// <summary>Up to this many thresholds, counting comparisons in bytes beats torch's per-element binary search (about 10× on 65,536 values).</summary>
    private const int CountingThresholds = 16;

    /// <summary>
    /// What searchsorted(Thresholds, y, right: true) returns: per element the count of thresholds ≤ y, one
    /// vectorised byte comparison per threshold (the thresholds ascend, so the count is the position).
    /// </summary>
    private Tensor CountAtOrBelow(Tensor y)
    {
        using var scope = NewDisposeScope();
        var count = zeros(y.shape, ScalarType.Byte, y.device);
        for (long k = 0; k < Thresholds.shape[1]; k++) count.PlusInPlace(y.ge(Thresholds.narrow(1, k, 1)).to(ScalarType.Byte));
        return count.to(int64).MoveToOuterDisposeScope();
    }

    /// <summary>Values <c>Levels[code] · s</c> of codes [G,N].</summary>
    public Tensor Decode(Tensor codes) => Levels.gather(1, codes) * Scales;

    /// <summary>
    /// Quantizes x [G,N] with a straight-through gradient: the value is exactly Decode(Encode(x)); the
    /// gradient is 1 inside the clip range and 0 outside it. With <paramref name="learnedBits"/> (a scalar
    /// b whose value is the grid's bitwidth), the step also follows b as s·2^−(b − b̂) with b̂ = b held
    /// fixed, so b receives the step-size gradient −ln2·(q − x) inside the clip and −ln2·q outside it
    /// (QPL, AutoQNN §4); the value is unchanged.
    /// </summary>
    /// <param name="x">Values [G,N].</param>
    /// <param name="learnedBits">QPL's bitwidth parameter, or null.</param>
    /// <param name="fast">Training: round a uniform grid arithmetically (see <see cref="Parts"/>).</param>
    public Tensor Quantize(Tensor x, Tensor? learnedBits = null, bool fast = false)
    {
        using var scope = NewDisposeScope();
        var (q, mask) = Parts(x, fast);
        var result = StraightThrough.Apply(x, q, mask);
        if (learnedBits is not null)
        {
            var error = q - (mask is null ? x.detach() : x.detach() * mask);
            result = result.Plus(pow(2.0, learnedBits.detach() - learnedBits).Minus(1.0) * error);
        }
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The quantized values Decode(Encode(x)) and the clip mask (1 inside, 0 outside; null where the scheme does
    /// not clip), both without gradient. With <paramref name="fast"/> (training only) a uniform grid rounds
    /// arithmetically, several times faster than the threshold search, and may differ from <see cref="Encode"/>
    /// where x/s lies within float rounding of a threshold; evaluation and export stay exact.
    /// </summary>
    public (Tensor Values, Tensor? Mask) Parts(Tensor x, bool fast = false)
    {
        using var scope = NewDisposeScope();
        var q = UniformFirst is null || !fast ? Decode(Encode(x)).detach()
            : (x.detach() / Scales - UniformFirst).PlusInPlace(0.5).floor_().ClampInPlace(0, Levels.shape[1] - 1).PlusInPlace(UniformFirst).mul_(Scales);
        Tensor? mask = null;
        if (ClipLow is not null && ClipHigh is not null)
        {
            var y = x.detach() / Scales;
            mask = ((y >= ClipLow) & (y <= ClipHigh)).to(x.dtype).MoveToOuterDisposeScope();
        }
        return (q.MoveToOuterDisposeScope(), mask);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Scales.Dispose();
        Levels.Dispose();
        Thresholds.Dispose();
        CodeOrder?.Dispose();
        UniformFirst?.Dispose();
        ClipLow?.Dispose();
        ClipHigh?.Dispose();
    }
}
