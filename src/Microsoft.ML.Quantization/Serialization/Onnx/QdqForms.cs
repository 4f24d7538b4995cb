using Microsoft.ML.Quantization.Schemes;

namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>
/// A grid as ONNX's DequantizeLinear reads it: every level of group g is (q − ZeroPoints[g]) · Steps[g] with q an
/// 8-bit integer (int8 with zero points 0 when the levels fit, else uint8), and <see cref="Integers"/> gives q by code;
/// where every q fits 4 bits the export stores them as int4 or uint4 (<see cref="FitsFourBits"/>).
/// </summary>
/// <param name="Signed">int8 (zero points 0) or uint8.</param>
/// <param name="Steps">The step of each group.</param>
/// <param name="ZeroPoints">The zero point of each group.</param>
/// <param name="Integers">q by code, group-major.</param>
internal sealed record QdqWeights(bool Signed, float[] Steps, int[] ZeroPoints, int[] Integers)
{
    /// <summary>
    /// The exact 8-bit form of a weight grid, or null when its levels are not one integer lattice of at most 256 points
    /// per group (ResQ's sums of residual scales, say), which then export as their decoded floats.
    /// </summary>
    public static QdqWeights? Of(QuantizationGrid grid)
    {
        int levels = grid.LevelCount;
        var integers = new int[grid.Levels.Length];
        var steps = new float[grid.GroupCount];
        var lows = new int[grid.GroupCount];
        var highs = new int[grid.GroupCount];
        for (int g = 0; g < grid.GroupCount; g++)
        {
            if (!IntegerLevels.TryCreate(grid.Levels.AsSpan(g * levels, levels), out int[] n, out int multiplier)) return null;
            int divisor = n.Aggregate(0, (a, b) => Gcd(a, Math.Abs(b)));
            if (divisor == 0) divisor = 1;
            for (int c = 0; c < levels; c++) integers[g * levels + c] = n[c] / divisor;
            lows[g] = n.Min() / divisor;
            highs[g] = n.Max() / divisor;
            if (highs[g] - lows[g] > 255) return null;
            steps[g] = grid.Scales[g] * divisor / multiplier;
        }
        if (lows.Min() >= sbyte.MinValue && highs.Max() <= sbyte.MaxValue) return new QdqWeights(true, steps, new int[grid.GroupCount], integers);
        // uint8: q = n − low, so the zero point is −low.
        var zeros = lows.Select(l => -l).ToArray();
        for (int g = 0; g < grid.GroupCount; g++)
        {
            for (int c = 0; c < levels; c++) integers[g * levels + c] += zeros[g];
        }
        return new QdqWeights(false, steps, zeros, integers);
    }

    /// <summary>Whether every q and zero point fits 4 bits (int4 −8…7, or uint4 0…15): ONNX's int4 types from opset 21.</summary>
    public bool FitsFourBits => Signed ? Integers.All(q => q is >= -8 and <= 7) : Integers.Append(ZeroPoints.Max()).All(q => q is >= 0 and <= 15);

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);
}

/// <summary>
/// A per-tensor activation grid as QuantizeLinear/DequantizeLinear compute it: levels (k + <see cref="First"/>) · Step
/// for k = 0 … Count − 1 (consecutive points of one lattice) with decision thresholds halfway between them. First is an
/// integer (ZoomQ, one-sided ClipQ, BCPReLU's output) or an integer plus one half (two-sided ClipQ's bin centres).
/// </summary>
/// <param name="Step">The distance between levels.</param>
/// <param name="First">The lowest level in steps.</param>
/// <param name="Count">The number of levels.</param>
internal sealed record QdqActivation(float Step, double First, int Count)
{
    /// <summary>The form of a per-tensor grid, or null when its levels or thresholds are not a rounded uniform lattice of at most 256 points.</summary>
    public static QdqActivation? Of(QuantizationGrid grid)
    {
        if (grid.GroupCount != 1) return null;
        int count = grid.LevelCount;
        var levels = Enumerable.Range(0, count).Select(k => (double)grid.Levels[grid.CodeOrder?[k] ?? k]).ToArray();
        double step = (levels[^1] - levels[0]) / (count - 1);
        if (!(step > 0)) return null;
        double first = Math.Round(levels[0] / step * 2) / 2; // a whole or half step
        for (int k = 0; k < count; k++)
        {
            if (Math.Abs(levels[k] / step - (first + k)) > 1e-4) return null;
            if (k > 0 && Math.Abs(grid.Thresholds[k - 1] - (levels[k - 1] + levels[k]) / 2) > 1e-4 * step) return null;
        }
        return new QdqActivation((float)(step * grid.Scales[0]), first, count);
    }

    /// <summary>Whether the levels sit half a step off the integer lattice (bin centres), so the export shifts by half a step around the pair.</summary>
    public bool HalfStep => First != Math.Floor(First);
}
