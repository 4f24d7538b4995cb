namespace Microsoft.ML.Quantization.Schemes;

/// <summary>
/// The decoded form every scheme shares: per group g (the whole tensor, or one output channel) a scale
/// s_g, a table of levels by code, and the sorted decision thresholds between them, all in units of s_g.
/// An element x of group g has the code <c>CodeOrder[count of thresholds ≤ x / s_g]</c> and the value
/// <c>Levels[code] · s_g</c>. Torch-free, so that export, persistence and scoring can use it.
/// </summary>
internal sealed class QuantizationGrid
{
    /// <summary>Creates a grid and checks that its arrays agree.</summary>
    public QuantizationGrid(int bits, float[] scales, float[] levels, float[] thresholds, int[]? codeOrder)
    {
        if (bits is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(bits), bits, "Bits must be between 1 and 8.");
        if (scales.Length == 0) throw new ArgumentException("A grid needs at least one group.", nameof(scales));
        int groups = scales.Length;
        if (levels.Length % groups != 0) throw new ArgumentException("Levels do not divide into the groups.", nameof(levels));
        int count = levels.Length / groups;
        if (count < 2 || count > 1 << bits)
            throw new ArgumentException($"A {bits}-bit grid has 2 to {1 << bits} levels, not {count}.", nameof(levels));
        if (thresholds.Length != groups * (count - 1))
            throw new ArgumentException($"Expected {groups * (count - 1)} thresholds, got {thresholds.Length}.", nameof(thresholds));
        if (codeOrder is not null && codeOrder.Length != levels.Length)
            throw new ArgumentException("The code order must have one entry per level.", nameof(codeOrder));
        Bits = bits;
        Scales = scales;
        Levels = levels;
        Thresholds = thresholds;
        CodeOrder = codeOrder;
    }

    /// <summary>Bits per code.</summary>
    public int Bits { get; }

    /// <summary>Scale s_g per group.</summary>
    public float[] Scales { get; }

    /// <summary>Levels by code, group-major, in units of the group's scale.</summary>
    public float[] Levels { get; }

    /// <summary>Ascending decision thresholds, group-major, in units of the group's scale.</summary>
    public float[] Thresholds { get; }

    /// <summary>Code of the i-th interval between thresholds, group-major; null means the identity.</summary>
    public int[]? CodeOrder { get; }

    /// <summary>Number of groups.</summary>
    public int GroupCount => Scales.Length;

    /// <summary>Number of levels per group (at most 2^Bits).</summary>
    public int LevelCount => Levels.Length / Scales.Length;
}
