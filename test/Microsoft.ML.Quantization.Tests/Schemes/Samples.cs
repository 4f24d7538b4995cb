namespace Microsoft.ML.Quantization.Tests.Schemes;

/// <summary>The four test distributions of the scheme tests (AutoQNN Fig. 2).</summary>
public enum Distribution { Normal, Uniform, Laplace, LogNormal }

/// <summary>Deterministic samples from the test distributions.</summary>
internal static class Samples
{
    public static float[] Draw(Distribution distribution, int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = distribution switch
            {
                Distribution.Normal => (float)Gaussian(random),
                Distribution.Uniform => (float)(random.NextDouble() * 2 - 1),
                Distribution.Laplace => (float)Laplace(random),
                Distribution.LogNormal => (float)Math.Exp(Gaussian(random)),
                _ => throw new ArgumentOutOfRangeException(nameof(distribution)),
            };
        }
        return values;
    }

    private static double Gaussian(Random random)
    {
        double u1 = 1.0 - random.NextDouble(), u2 = random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }

    private static double Laplace(Random random)
    {
        double u = random.NextDouble() - 0.5;
        return -Math.Sign(u) * Math.Log(1 - 2 * Math.Abs(u));
    }

    public static double MeanSquaredError(float[] a, float[] b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++) sum += (a[i] - (double)b[i]) * (a[i] - (double)b[i]);
        return sum / a.Length;
    }
}
