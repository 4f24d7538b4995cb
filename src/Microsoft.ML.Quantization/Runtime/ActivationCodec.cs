namespace Microsoft.ML.Quantization.Runtime;

/// <summary>
/// The frozen grid of an activation quantizer at scoring: encodes floats to codes exactly as the training
/// forward does (count of thresholds ≤ x / s, then the code order), and gives each code's value as an
/// integer (<see cref="Integers"/> / <see cref="Multiplier"/> · <see cref="Scale"/>) when the levels allow it.
/// </summary>
internal sealed class ActivationCodec
{
    private readonly float[] thresholds;
    private readonly int[] order;
    private readonly float[] values;

    /// <summary>Creates the codec from a per-tensor grid.</summary>
    public ActivationCodec(QuantizationGrid grid)
    {
        if (grid.GroupCount != 1) throw new InvalidDataException("An activation grid must be per tensor.");
        Scale = grid.Scales[0];
        Levels = grid.Levels;
        thresholds = grid.Thresholds;
        order = grid.CodeOrder ?? Enumerable.Range(0, grid.LevelCount).ToArray();
        values = Levels.Select(l => l * Scale).ToArray();
        if (IntegerLevels.TryCreate(Levels, out var integers, out int multiplier))
        {
            Integers = integers;
            Multiplier = multiplier;
            MinInteger = Math.Min(0, integers.Min());
            MaxInteger = Math.Max(0, integers.Max());
        }
    }

    /// <summary>The scale s.</summary>
    public float Scale { get; }

    /// <summary>Levels by code, in units of s.</summary>
    public float[] Levels { get; }

    /// <summary>Integer value of each code, or null when the levels have no integer form.</summary>
    public int[]? Integers { get; }

    /// <summary>The power of two that turns levels into <see cref="Integers"/>.</summary>
    public int Multiplier { get; }

    /// <summary>Real value of one integer unit: s / m.</summary>
    public float Unit => Scale / Multiplier;

    /// <summary>Smallest integer value, 0 included (zero padding).</summary>
    public int MinInteger { get; }

    /// <summary>Largest integer value, 0 included.</summary>
    public int MaxInteger { get; }

    /// <summary>The code of one value.</summary>
    public int Encode(float x)
    {
        float y = x / Scale;
        int position = 0;
        // Thresholds ascend; a linear count is branch-predictable for the usual ≤ 15 thresholds.
        if (thresholds.Length <= 16)
        {
            foreach (float t in thresholds) position += t <= y ? 1 : 0;
        }
        else
        {
            int lo = 0, hi = thresholds.Length;
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (thresholds[mid] <= y) lo = mid + 1;
                else hi = mid;
            }
            position = lo;
        }
        return order[position];
    }

    /// <summary>The float value of a code, as the training forward computes it (level · s in float32).</summary>
    public float Value(int code) => values[code];
}
