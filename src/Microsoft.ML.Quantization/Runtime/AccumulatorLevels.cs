using System.Runtime.CompilerServices;

namespace Microsoft.ML.Quantization.Runtime;

/// <summary>
/// The scalar epilogue's levels straight from the accumulators. An output's value f(acc) = ReLU((acc − c)·m + a), in the
/// float operations every epilogue path uses, is monotone in acc (rising where m ≥ 0, falling where m &lt; 0), so whether it
/// reaches the codec's k-th input threshold changes at one accumulator. Those are found once by bisection over f itself;
/// then a value's level is a bisection over integers, and a max pool of f is f of the max (min where m &lt; 0) accumulator.
/// The codes are the float path's bit for bit. Without SIMD that path (conversion, multiply-add, a float max that is a
/// branch there, and the count) took a quarter of VggSmall's time.
/// </summary>
/// <remarks>
/// Accumulators are compared as acc ^ flip (flip −1 where m &lt; 0: ~acc falls as acc rises, and cannot overflow). Only those
/// for which acc − c does not wrap around are covered; a product sum that large has overflowed its int already.
/// </remarks>
internal sealed class AccumulatorLevels
{
    private readonly long[] starts; // per output, Slots entries: −∞, the least flipped accumulator reaching each threshold, then +∞
    private readonly int[] flips;
    private const long Never = 1L << 40, Always = -(1L << 40); // beyond any int, near enough that start − acc − 1 cannot overflow

    private AccumulatorLevels(ActivationCodec codec, int[]? correction, float[] mul, float[] add, bool relu)
    {
        var inputs = codec.InputThresholds!;
        Slots = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)inputs.Length + 1);
        starts = new long[mul.Length * Slots];
        flips = new int[mul.Length];
        for (int o = 0; o < mul.Length; o++)
        {
            int c = correction?[o] ?? 0;
            float m = mul[o], a = add[o];
            int flip = flips[o] = m < 0 ? -1 : 0;
            long lo = (long)int.MinValue + Math.Max(c, 0), hi = (long)int.MaxValue + Math.Min(c, 0); // acc − c stays an int
            if (flip != 0) (lo, hi) = (~hi, ~lo);
            var row = starts.AsSpan(o * Slots, Slots);
            row.Fill(Never);
            row[0] = Always;
            for (int k = 0; k < inputs.Length; k++)
            {
                float t = inputs[k];
                bool Reaches(long y)
                {
                    float v = ((int)y ^ flip) - c;
                    v = v * m + a;
                    return (relu ? Math.Max(v, 0f) : v) >= t;
                }
                row[k + 1] = !Reaches(hi) ? Never : Reaches(lo) ? Always : Least(lo, hi, Reaches);
            }
        }
    }

    /// <summary>Entries per output: the thresholds plus one, rounded up to a power of two (4 for 2-bit grids, 16 for 4-bit).</summary>
    public int Slots { get; }

    /// <summary>The threshold counts of <paramref name="codec"/> from accumulators of outputs with these affines, or null where its grid has no input thresholds.</summary>
    public static AccumulatorLevels? TryCreate(ActivationCodec codec, int[]? correction, float[] mul, float[] add, bool relu) =>
        codec.InputThresholds is null ? null : new AccumulatorLevels(codec, correction, mul, add, relu);

    /// <summary>Per output, <see cref="Slots"/> entries: a value below every flipped accumulator, the least flipped accumulator reaching each threshold, then values above every one.</summary>
    public ReadOnlySpan<long> Starts => starts;

    /// <summary>What each output's accumulators are XORed with before they are compared: 0, or −1 where its scale is negative.</summary>
    public ReadOnlySpan<int> Flips => flips;

    /// <summary>
    /// How many thresholds the flipped accumulator <paramref name="flipped"/> of the output whose <see cref="Starts"/> begin at
    /// <paramref name="row"/> reaches (<see cref="ActivationCodec.LevelOfCount"/> gives its level), by bisection on masks (a
    /// compare branch mispredicted on ReLU'd values).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe int Count(long* row, int slots, long flipped)
    {
        int count = 0;
        for (int step = slots >> 1; step > 0; step >>= 1) count += step & (int)((row[count + step] - flipped - 1) >> 63);
        return count;
    }

    /// <summary>The least y in (<paramref name="lo"/>, <paramref name="hi"/>] with <paramref name="reaches"/>(y), which holds at hi and not at lo and never turns false again.</summary>
    private static long Least(long lo, long hi, Func<long, bool> reaches)
    {
        while (hi - lo > 1)
        {
            long mid = lo + (hi - lo) / 2;
            if (reaches(mid)) hi = mid;
            else lo = mid;
        }
        return hi;
    }
}
