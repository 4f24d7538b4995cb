using System.Diagnostics;

namespace Microsoft.ML.Quantization.Samples;

/// <summary>Single-example latency as a sample user sees it.</summary>
internal static class LatencyProbe
{
    /// <summary>The median wall time of <paramref name="predict"/>(i), i in [0, count), after one untimed warm-up pass.</summary>
    public static double MedianMilliseconds(int count, Action<int> predict)
    {
        if (count <= 0) throw new ArgumentOutOfRangeException(nameof(count), count, "Measure at least one prediction.");
        for (int i = 0; i < count; i++) predict(i);
        var times = new double[count];
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            predict(i);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[count / 2];
    }
}
