using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Functional;

/// <summary>
/// Random numbers of a training run that no other thread can disturb. Torch's global generator is shared by every
/// model in the process (an application may train two at once; xunit runs test classes in parallel), so a run that
/// drew from it would change with whatever else ran. Training draws (Gumbel noise, activation samples) come from a
/// generator of the thread, reseeded every epoch so a resumed run draws the same numbers; module initialisation,
/// which TorchSharp draws from the global generator, is seeded and run under one lock. Dropout still draws from
/// the global generator: torch offers it no other.
/// </summary>
internal static class TrainingRandom
{
    private static readonly object GlobalGenerator = new();
    [ThreadStatic] private static Generator? current;

    /// <summary>The generator of the epoch running on this thread; null outside training.</summary>
    public static Generator? Current => current;

    /// <summary>Makes a generator seeded by the run's seed and the epoch current on this thread until disposed.</summary>
    public static IDisposable ForEpoch(int seed, int epoch)
    {
        var previous = current;
        current = new Generator((ulong)(seed * 104729L + epoch));
        return new Restore(previous);
    }

    /// <summary>Seeds torch's global generator and runs <paramref name="create"/> while no other module is being made.</summary>
    public static T Seeded<T>(long seed, Func<T> create)
    {
        lock (GlobalGenerator)
        {
            random.manual_seed(seed);
            return create();
        }
    }

    private sealed class Restore : IDisposable
    {
        private readonly Generator? previous;
        public Restore(Generator? previous) => this.previous = previous;

        public void Dispose()
        {
            current?.Dispose();
            current = previous;
        }
    }
}
