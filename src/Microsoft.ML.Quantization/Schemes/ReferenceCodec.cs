namespace Microsoft.ML.Quantization.Schemes;

/// <summary>
/// Managed reference encode and decode for any <see cref="QuantizationGrid"/>. The training forward of
/// every scheme (<see cref="Functional.GridTensors"/>) performs the same float32 operations, so the two
/// agree bit for bit.
/// </summary>
internal static class ReferenceCodec
{
    /// <summary>Encodes values; group g covers the g-th equal slice of <paramref name="values"/>.</summary>
    public static void Encode(ReadOnlySpan<float> values, QuantizationGrid grid, Span<byte> codes)
    {
        int perGroup = GroupLength(values.Length, codes.Length, grid);
        int levels = grid.LevelCount;
        for (int g = 0; g < grid.GroupCount; g++)
        {
            float scale = grid.Scales[g];
            ReadOnlySpan<float> thresholds = grid.Thresholds.AsSpan(g * (levels - 1), levels - 1);
            ReadOnlySpan<int> order = grid.CodeOrder is null ? default : grid.CodeOrder.AsSpan(g * levels, levels);
            for (int i = g * perGroup; i < (g + 1) * perGroup; i++)
            {
                int position = CountAtOrBelow(thresholds, values[i] / scale);
                codes[i] = (byte)(order.IsEmpty ? position : order[position]);
            }
        }
    }

    /// <summary>Decodes codes to <c>Levels[code] · scale</c>.</summary>
    public static void Decode(ReadOnlySpan<byte> codes, QuantizationGrid grid, Span<float> values)
    {
        int perGroup = GroupLength(codes.Length, values.Length, grid);
        int levels = grid.LevelCount;
        for (int g = 0; g < grid.GroupCount; g++)
        {
            float scale = grid.Scales[g];
            ReadOnlySpan<float> table = grid.Levels.AsSpan(g * levels, levels);
            for (int i = g * perGroup; i < (g + 1) * perGroup; i++)
            {
                values[i] = table[codes[i]] * scale;
            }
        }
    }

    /// <summary>Number of ascending thresholds t with t ≤ y (the right-sided search torch uses).</summary>
    private static int CountAtOrBelow(ReadOnlySpan<float> thresholds, float y)
    {
        int lo = 0, hi = thresholds.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (thresholds[mid] <= y) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private static int GroupLength(int inputLength, int outputLength, QuantizationGrid grid)
    {
        if (inputLength != outputLength) throw new ArgumentException($"Input has {inputLength} elements, output {outputLength}.");
        if (inputLength % grid.GroupCount != 0) throw new ArgumentException($"{inputLength} elements do not divide into {grid.GroupCount} groups.");
        return inputLength / grid.GroupCount;
    }
}
