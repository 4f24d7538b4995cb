namespace Microsoft.ML.Quantization.Search;

/// <summary>
/// Automatic quantization was asked for an average bitwidth that no choice of the allowed widths meets (within 0.1 bit
/// below it, never above): thrown before any training, with the closest averages that can be reached.
/// </summary>
public sealed class UnreachableBitTargetException : InvalidOperationException
{
    internal UnreachableBitTargetException(string role, double target, double? closestBelow, double? closestAbove)
        : base($"Precision learning (QPL: LearnPrecision, or QuantizeAutomatically): no {role} bitwidths give an average within 0.1 bit below the target {target:F2}: the closest reachable averages are "
            + $"{(closestBelow is { } b ? $"{b:F3} below it" : "none below it")} and {(closestAbove is { } a ? $"{a:F3} above it" : "none above it")}. "
            + "Ask for a reachable target, or widen the allowed widths (PrecisionLearningOptions.MinWeightBits, MinActivationBits, MaxBits, or QagOptions.KeepFirstAndLastAt8Bits).")
    {
        Role = role;
        Target = target;
        ClosestBelow = closestBelow;
        ClosestAbove = closestAbove;
    }

    /// <summary>"weight" or "activation".</summary>
    public string Role { get; }

    /// <summary>The average asked for.</summary>
    public double Target { get; }

    /// <summary>The largest reachable average below the target's window, if any.</summary>
    public double? ClosestBelow { get; }

    /// <summary>The smallest reachable average above the target, if any.</summary>
    public double? ClosestAbove { get; }
}
