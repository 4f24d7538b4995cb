namespace Microsoft.ML.Quantization.Tests.Infrastructure;

/// <summary>What the tests read from a row of logits or scores.</summary>
internal static class Logits
{
    /// <summary>The index of the largest value (the first of equal ones): the predicted class.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
