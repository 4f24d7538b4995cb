using Microsoft.ML.Quantization.MLNet.Persistence;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.Quantization.Tests.Serialization;

/// <summary>
/// Model files are untrusted input. A saved quantized model's state is mutated, truncated and extended
/// thousands of times (deterministic seed) and re-wrapped with a valid checksum, as an attacker could; every
/// attempt must end in <see cref="InvalidDataException"/> (with no index, null or overflow fault anywhere in
/// its chain) or load a model that still scores, within an allocation bound (a bound on work, not on time, which a busy
/// machine would break).
/// </summary>
public class ModelFuzzTests(ITestOutputHelper output)
{
    private const int Cases = 20_000;
    private const long AllocationCap = 64L << 20;

    [Fact]
    public void MutatedStateFailsCleanly()
    {
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterQuantization();
        var chain = (IEnumerable<ITransformer>)ml.Model.Load(RepoPaths.ImageClassifierFixture, out _);
        var original = chain.OfType<QuantizationTransformerBase>().Single().ToPayload();
        var (kind, version, body) = PayloadContainer.Unwrap(original);
        var random = new Random(20261122);
        int rejected = 0, loaded = 0;
        var probabilities = new float[10];
        for (int i = 0; i < Cases; i++)
        {
            byte[] mutated = Mutate(body, random);
            byte[] container = PayloadContainer.Wrap(kind, mutated, version);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                var transformer = (ImageClassifierTransformer)ModelLoader.Load(container);
                loaded++;
                // A mutation that still parses (a changed float, say) gives a model that still scores.
                transformer.Scorer.Score(new float[784], probabilities);
            }
            catch (InvalidDataException e)
            {
                rejected++;
                for (Exception? inner = e; inner is not null; inner = inner.InnerException)
                    Assert.False(inner is IndexOutOfRangeException or NullReferenceException or OverflowException or ArgumentOutOfRangeException { ParamName: "index" },
                        $"case {i}: {inner.GetType().Name} inside the rejection: {inner}");
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < AllocationCap, $"case {i} allocated {allocated:N0} bytes.");
        }
        output.WriteLine($"{Cases} cases: {rejected} rejected with InvalidDataException, {loaded} loaded");
        Assert.Equal(Cases, rejected + loaded);
        Assert.True(rejected > Cases / 2, $"only {rejected} of {Cases} mutations were rejected");
    }

    /// <summary>One of: flip 1–8 random bytes, truncate at a random point, insert random bytes, overwrite a 4-byte field with an extreme value.</summary>
    private static byte[] Mutate(byte[] body, Random random)
    {
        var bytes = (byte[])body.Clone();
        switch (random.Next(4))
        {
            case 0:
                for (int n = random.Next(1, 9); n > 0; n--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                return bytes;
            case 1:
                return bytes[..random.Next(bytes.Length)];
            case 2:
            {
                int at = random.Next(bytes.Length);
                var extra = new byte[random.Next(1, 17)];
                random.NextBytes(extra);
                return bytes[..at].Concat(extra).Concat(bytes[at..]).ToArray();
            }
            default:
            {
                int at = random.Next(bytes.Length - 4);
                int[] extremes = { int.MaxValue, int.MinValue, -1, 0, 1 << 30, 65536 };
                BitConverter.GetBytes(extremes[random.Next(extremes.Length)]).CopyTo(bytes, at);
                return bytes;
            }
        }
    }
}
