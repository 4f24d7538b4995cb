using System.Runtime.Intrinsics.X86;
using Microsoft.ML.Quantization.Kernels;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Kernels;

/// <summary>The XOR/popcount W1A1 kernel: both paths equal each other and the integer product of ±1 weights and {−1, 0, +1} activations.</summary>
public class BinaryGemmTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void PathsMatchTheIntegerProduct(int seed)
    {
        var random = new Random(seed);
        // Channels across word boundaries and past 31 words per window (the byte counters' flush).
        int outputs = random.Next(1, 30), taps = random.Next(1, 10), channels = seed == 5 ? 700 : random.Next(1, 150), positions = random.Next(1, 14);
        var positive = Enumerable.Range(0, outputs * taps * channels).Select(_ => random.Next(2) == 1).ToArray();
        var w = BinaryWeights.FromSigns(positive, outputs, taps, channels);
        int perTap = w.WordsPerTap;
        // A strip of "pixels", each perTap words; taps read pixels at random distances, positions start anywhere.
        int pixels = random.Next(taps, 3 * taps + 5);
        var activation = new int[pixels * perTap * 64];
        var sign = new ulong[pixels * perTap];
        var nonzero = new ulong[pixels * perTap];
        for (int px = 0; px < pixels; px++)
            for (int c = 0; c < channels; c++)
            {
                int a = random.Next(-1, 2), word = px * perTap + c / 64;
                activation[word * 64 + c % 64] = a;
                if (a != 0) nonzero[word] |= 1UL << (c % 64);
                if (a > 0) sign[word] |= 1UL << (c % 64);
            }
        int span = pixels / 2;
        var tapOffsets = Enumerable.Range(0, taps).Select(_ => random.Next(span) * perTap).ToArray();
        var starts = Enumerable.Range(0, positions).Select(_ => random.Next(pixels - span + 1) * perTap).ToArray();

        int ldc = w.PaddedOutputs + random.Next(0, 3) * 8;
        var portable = new int[positions * ldc];
        BinaryGemm.MultiplyPortable(w, sign, nonzero, tapOffsets, starts, portable, ldc);
        for (int p = 0; p < positions; p++)
            for (int o = 0; o < outputs; o++)
            {
                int dot = 0, active = 0;
                for (int t = 0; t < taps; t++)
                    for (int c = 0; c < channels; c++)
                    {
                        int a = activation[(starts[p] + tapOffsets[t] + c / 64) * 64 + c % 64];
                        dot += (positive[(o * taps + t) * channels + c] ? 1 : -1) * a;
                        active += a != 0 ? 1 : 0;
                    }
                Assert.Equal(dot, active - 2 * portable[p * ldc + o]);
            }
        var vector = new int[positions * ldc];
        if (Avx512BW.IsSupported) BinaryGemm.MultiplyAvx512(w, sign, nonzero, tapOffsets, starts, vector, ldc);
        else
        {
            // Without AVX-512BW (DOTNET_EnableAVX512=0 in .ci/run) the vector entry refuses and the dispatcher runs the portable path.
            Assert.Throws<PlatformNotSupportedException>(() => BinaryGemm.MultiplyAvx512(w, sign, nonzero, tapOffsets, starts, vector, ldc));
            BinaryGemm.Multiply(w, sign, nonzero, tapOffsets, starts, vector, ldc);
        }
        for (int p = 0; p < positions; p++)
            Assert.Equal(portable.AsSpan(p * ldc, outputs).ToArray(), vector.AsSpan(p * ldc, outputs).ToArray());
    }

    [Fact]
    public void RejectsWindowsOutsideThePlanes()
    {
        var w = BinaryWeights.FromSigns(new bool[2 * 3 * 10], 2, 3, 10);
        var planes = new ulong[4];
        Assert.Throws<ArgumentException>(() => BinaryGemm.Multiply(w, planes, planes, new[] { 0, 1 }, new[] { 0 }, new int[8], 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => BinaryGemm.Multiply(w, planes, planes, new[] { 0, 1, 2 }, new[] { 2 }, new int[8], 8));
        Assert.Throws<ArgumentException>(() => BinaryGemm.Multiply(w, planes, new ulong[3], new[] { 0, 1, 2 }, new[] { 0 }, new int[8], 8));
    }
}
