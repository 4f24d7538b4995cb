using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Runtime;

/// <summary>The AVX2 encoder: 8 values at a time, for CPUs without AVX-512 (where <see cref="EncodeIntegers"/> runs instead).</summary>
internal sealed partial class ActivationCodec
{
    private readonly Vector256<int> lowLevels, highLevels; // the level table's first and last 8 entries

    /// <summary>
    /// Whether <see cref="EncodeIntegers256"/> runs here: AVX2 without AVX-512, and a grid of at most 16 levels whose
    /// thresholds compare with inputs directly (a positive, finite scale and finite thresholds), or a near-uniform grid
    /// of more (8-bit edges), whose count is estimated and corrected as <see cref="EncodeIntegers"/> does.
    /// </summary>
    public bool IsVectorized256 => !Avx512F.IsSupported && Avx2.IsSupported && (inputThresholds is not null || countLevels is not null);

    /// <summary>
    /// The integer levels of 8 values (<see cref="IsVectorized256"/> only): <see cref="Encode"/>'s threshold count by one
    /// compare per threshold on the inputs, then the level table through two 8-entry permutes and a blend.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<int> EncodeIntegers256(Vector256<float> x)
    {
        if (inputThresholds is null) return CountedIntegers256(x / Vector256.Create(Scale));
        var position = Vector256<int>.Zero;
        foreach (float t in inputThresholds!) position -= Vector256.GreaterThanOrEqual(x, Vector256.Create(t)).AsInt32();
        var low = Avx2.PermuteVar8x32(lowLevels, position); // entry position mod 8
        if (order.Length <= 8) return low;
        var high = Avx2.PermuteVar8x32(highLevels, position);
        return Avx.BlendVariable(low.AsSingle(), high.AsSingle(), Vector256.GreaterThan(position, Vector256.Create(7)).AsSingle()).AsInt32();
    }

    /// <summary><see cref="InRegisters"/> for <see cref="EncodeIntegers256"/> (<see cref="IsVectorized256"/> only).</summary>
    public FourLevels256? InRegisters256 { get; }

    [MethodImpl(MethodImplOptions.NoInlining)] // keeps the ≤ 16-level path small where it is inlined
    private unsafe Vector256<int> CountedIntegers256(Vector256<float> y)
    {
        // As CountedIntegers: vmaxps returns its second operand for NaN, so NaN estimates become 0.
        var estimate = Vector256.Floor((y - Vector256.Create(firstThreshold)) * Vector256.Create(inverseStep)) + Vector256<float>.One;
        estimate = Avx.Min(Avx.Max(estimate, Vector256<float>.Zero), Vector256.Create((float)thresholds.Length));
        if (CountsByArithmetic) return ComputedLevel(Avx.ConvertToVector256Int32WithTruncation(estimate), y);
        fixed (float* t = boundedThresholds)
        fixed (int* levels = countLevels)
        {
            return Level(t, levels, Avx.ConvertToVector256Int32WithTruncation(estimate), y);
        }
    }

    /// <summary>The 16 bytes (integer level + <paramref name="bias"/>, which must keep them in 0–255) of 16 values at <paramref name="x"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public unsafe Vector128<byte> EncodeBytes256(float* x, Vector256<int> bias)
    {
        var shorts = Vector256.Narrow(EncodeIntegers256(Vector256.Load(x)) + bias, EncodeIntegers256(Vector256.Load(x + 8)) + bias).AsUInt16();
        return Vector128.Narrow(shorts.GetLower(), shorts.GetUpper());
    }
}

/// <summary>Encodes 8 floats into their integer levels (<see cref="ActivationCodec.EncodeIntegers256"/>): the codec's, or its grid in registers.</summary>
internal interface IVectorEncoder256
{
    /// <summary>The integer levels of <paramref name="x"/>.</summary>
    Vector256<int> Encode(Vector256<float> x);
}

/// <summary>The codec's own <see cref="ActivationCodec.EncodeIntegers256"/>.</summary>
internal readonly struct CodecEncoder256(ActivationCodec codec) : IVectorEncoder256
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<int> Encode(Vector256<float> x) => codec.EncodeIntegers256(x);
}

/// <summary><see cref="FourLevels"/> on 256-bit registers (<see cref="ActivationCodec.InRegisters256"/>).</summary>
internal readonly struct FourLevels256 : IVectorEncoder256
{
    private readonly Vector256<float> first, second, third;
    private readonly Vector256<int> levels;

    /// <summary>The grid of input thresholds <paramref name="inputs"/> (at most 3) and its level table's first 8 entries.</summary>
    public FourLevels256(float[] inputs, Vector256<int> levels)
    {
        if (inputs.Length > 3) throw new ArgumentException("At most 3 thresholds fit.", nameof(inputs));
        Vector256<float> At(int k) => Vector256.Create(k < inputs.Length ? inputs[k] : float.NaN);
        (first, second, third, this.levels) = (At(0), At(1), At(2), levels);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector256<int> Encode(Vector256<float> x)
    {
        var passed = Vector256.GreaterThanOrEqual(x, first).AsInt32() + Vector256.GreaterThanOrEqual(x, second).AsInt32() + Vector256.GreaterThanOrEqual(x, third).AsInt32();
        return Avx2.PermuteVar8x32(levels, -passed); // each passed threshold is −1
    }
}
