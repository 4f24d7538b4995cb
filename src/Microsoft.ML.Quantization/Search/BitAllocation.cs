namespace Microsoft.ML.Quantization.Search;

/// <summary>One quantizer in a bit allocation: its element count, the integer widths it may take, the width QPL learned.</summary>
/// <param name="Name">The vertex.</param>
/// <param name="Elements">Weights or activation values it quantizes (its weight in the average).</param>
/// <param name="MinBits">Smallest width it may take.</param>
/// <param name="MaxBits">Largest width it may take (equal to <paramref name="MinBits"/> for a fixed vertex).</param>
/// <param name="Learned">The continuous width QPL learned for it (its own width for a fixed vertex).</param>
internal sealed record AllocationItem(string Name, long Elements, int MinBits, int MaxBits, double Learned);

/// <summary>
/// Turns QPL's learned widths into integer bits: a small knapsack, solved exactly by dynamic programming over the
/// reachable element-bit totals. It minimises Σᵢ nᵢ·(bᵢ − cᵢ)², the element-weighted squared distance from the learned
/// widths cᵢ (the form of AutoQNN's precision loss, Eq. 6, per vertex: QPL's task gradient has moved cᵢ up where bits
/// pay and down where they do not), subject to T − <see cref="Tolerance"/> ≤ Σᵢ nᵢbᵢ / Σᵢ nᵢ ≤ T. A huge layer learned
/// near 1 bit next to small ones therefore still takes the bits a 2-bit target leaves, instead of the average stopping at 1.2.
/// </summary>
internal static class BitAllocation
{
    /// <summary>How far below its target an achieved average may end.</summary>
    public const double Tolerance = 0.1;

    // Above this many distinct totals, totals closer than 1/StateResolution bit of average share a state (the cheaper kept).
    private const int MaxStates = 5_000, StateResolution = 2_000;

    /// <summary>
    /// The integer width of every item whose average meets <paramref name="target"/> within <see cref="Tolerance"/> below
    /// at the least squared distance from the learned widths; throws <see cref="UnreachableBitTargetException"/> naming the
    /// closest reachable averages when no choice meets it.
    /// </summary>
    public static IReadOnlyDictionary<string, int> Allocate(IReadOnlyList<AllocationItem> items, double target, string role)
    {
        long elements = items.Sum(i => i.Elements);
        if (elements == 0) return items.ToDictionary(i => i.Name, i => i.MinBits, StringComparer.Ordinal);
        long upper = (long)Math.Floor(target * elements + 1e-6), lower = (long)Math.Ceiling((target - Tolerance) * elements - 1e-6);
        long merge = Math.Max(1, elements / StateResolution);

        // Total element-bits so far → the cheapest choice reaching it; a total that cannot stay under the target is dropped.
        var states = new Dictionary<long, State> { [0] = new State(0, 0, null, 0) };
        long restMinimum = items.Sum(i => i.Elements * i.MinBits);
        foreach (var item in items)
        {
            restMinimum -= item.Elements * item.MinBits;
            var next = new Dictionary<long, State>();
            foreach (var state in states.Values)
            {
                for (int bits = item.MinBits; bits <= item.MaxBits; bits++)
                {
                    long total = state.Total + item.Elements * bits;
                    double cost = state.Cost + item.Elements * (bits - item.Learned) * (bits - item.Learned);
                    long key = states.Count > MaxStates ? total / merge : total;
                    if (!next.TryGetValue(key, out var kept) || cost < kept.Cost) next[key] = new State(total, cost, state, bits);
                    if (total + restMinimum > upper) break; // wider only overshoots further (one overshoot kept, to name it)
                }
            }
            states = next;
        }

        var best = states.Values.Where(s => s.Total >= lower && s.Total <= upper).MinBy(s => s.Cost);
        if (best is null)
        {
            var totals = states.Values.Select(s => s.Total).ToList();
            double? below = totals.Where(t => t < lower).Select(t => (double?)t).Max() / elements;
            double? above = totals.Where(t => t > upper).Select(t => (double?)t).Min() / elements;
            throw new UnreachableBitTargetException(role, target, below, above);
        }
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        var at = best;
        for (int i = items.Count - 1; i >= 0; i--, at = at.Previous!) result[items[i].Name] = at.Bits;
        return result;
    }

    private sealed record State(long Total, double Cost, State? Previous, int Bits);
}
