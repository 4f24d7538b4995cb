namespace Microsoft.ML.Quantization.Tools.Mlquant;

/// <summary>The validation split of every command: per class, so that the validation set keeps the classes' proportions.</summary>
internal static class ClassSplit
{
    /// <summary>
    /// In each class (in the order classes first occur), a seeded shuffle puts <paramref name="fraction"/> of its rows (at
    /// least one where the class has two) into validation.
    /// </summary>
    public static (List<T> Train, List<T> Validation) Split<T>(IEnumerable<T> rows, Func<T, string> label, double fraction, int seed)
    {
        var random = new Random(seed);
        var train = new List<T>();
        var validation = new List<T>();
        foreach (var group in rows.GroupBy(label))
        {
            var shuffled = group.OrderBy(_ => random.Next()).ToList();
            int held = shuffled.Count < 2 ? 0 : Math.Clamp((int)Math.Round(fraction * shuffled.Count), 1, shuffled.Count - 1);
            validation.AddRange(shuffled.Take(held));
            train.AddRange(shuffled.Skip(held));
        }
        return (train, validation);
    }
}
