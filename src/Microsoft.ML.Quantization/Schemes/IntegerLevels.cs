namespace Microsoft.ML.Quantization.Schemes;

/// <summary>
/// Finds the integer form of a table of levels: the smallest power-of-two multiplier m ≤ 2^14 for which every
/// level times m is an integer of at most 15 bits. Uniform, ternary, quaternary, fixed-point and
/// power-of-two grids all have one (m = 1, 2 or 2^k), so their dot products run in exact integer arithmetic.
/// </summary>
internal static class IntegerLevels
{
    /// <summary>Tries to express <paramref name="levels"/> as integers / <paramref name="multiplier"/>.</summary>
    public static bool TryCreate(ReadOnlySpan<float> levels, out int[] integers, out int multiplier)
    {
        for (int shift = 0; shift <= 14; shift++)
        {
            int m = 1 << shift;
            var result = new int[levels.Length];
            bool exact = true;
            for (int i = 0; i < levels.Length && exact; i++)
            {
                double scaled = (double)levels[i] * m;
                exact = scaled == Math.Round(scaled) && Math.Abs(scaled) <= short.MaxValue;
                if (exact) result[i] = (int)scaled;
            }
            if (exact)
            {
                integers = result;
                multiplier = m;
                return true;
            }
        }
        integers = Array.Empty<int>();
        multiplier = 0;
        return false;
    }
}
