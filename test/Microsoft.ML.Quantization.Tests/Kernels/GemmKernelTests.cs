using System.Runtime.Intrinsics.X86;
using Microsoft.ML.Quantization.Kernels;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Kernels;

/// <summary>Every optimized product equals the scalar reference bit for bit over random shapes and bitwidths.</summary>
public class GemmKernelTests
{
    public static TheoryData<int, int> Int8Cases()
    {
        var data = new TheoryData<int, int>();
        // Table sizes that select 1-, 2-, 4- and 8-bit slots, each with several seeds.
        foreach (int levels in new[] { 2, 3, 4, 7, 16, 200 })
            for (int seed = 0; seed < 4; seed++) data.Add(levels, seed);
        return data;
    }

    [Theory]
    [MemberData(nameof(Int8Cases))]
    public void Int8PathsMatchReference(int levels, int seed)
    {
        var random = new Random(seed * 31 + levels);
        int outputs = random.Next(1, 50), depth = random.Next(1, 300), positions = random.Next(1, 21);
        var table = Enumerable.Range(0, levels).Select(_ => random.Next(-128, 128)).ToArray();
        var codes = Enumerable.Range(0, outputs * depth).Select(_ => (byte)random.Next(levels)).ToArray();
        var w = Int8Weights.FromCodes(codes, table, outputs, depth);
        Assert.Equal(levels <= 2 ? 1 : levels <= 4 ? 2 : levels <= 16 ? 4 : 8, w.SlotBits);
        int maxX = Math.Min(255, 32767 / (2 * Math.Max(1, w.MaxMagnitude)));
        int ldx = w.PaddedDepth + random.Next(0, 5);
        var x = new byte[positions * ldx];
        for (int p = 0; p < positions; p++)
            for (int k = 0; k < depth; k++) x[p * ldx + k] = (byte)random.Next(maxX + 1);

        var expected = Reference(codes.Select(c => table[c]).ToArray(), outputs, depth, x.Select(v => (int)v).ToArray(), ldx, positions);
        int ldc = w.PaddedOutputs;
        foreach (var run in Int8Runs())
        {
            var c = new int[positions * ldc];
            run(w, x, ldx, positions, c, ldc);
            AssertSame(expected, c, outputs, positions, ldc);
        }
    }

    [Theory]
    [MemberData(nameof(Int8Cases))]
    public void Int8TapPathsMatchReference(int levels, int seed)
    {
        // A direct convolution: padded HWC bytes, k·k taps at fixed offsets, positions along one output row.
        var random = new Random(seed * 17 + levels);
        int channels = random.Next(1, 13), c4 = (channels + 3) & ~3, kernel = random.Next(2) * 2 + 1, stride = random.Next(1, 3);
        int paddedWidth = random.Next(kernel, 14), outputs = random.Next(1, 40);
        int positions = (paddedWidth - kernel) / stride + 1, taps = kernel * kernel;
        var table = Enumerable.Range(0, levels).Select(_ => random.Next(-128, 128)).ToArray();
        var codes = Enumerable.Range(0, outputs * taps * c4).Select(_ => (byte)random.Next(levels)).ToArray();
        var w = Int8Weights.FromCodes(codes, table, outputs, taps * c4);
        int maxX = Math.Min(255, 32767 / (2 * Math.Max(1, w.MaxMagnitude)));
        var x = new byte[kernel * paddedWidth * c4];
        for (int i = 0; i < x.Length; i++) x[i] = i % c4 < channels ? (byte)random.Next(maxX + 1) : (byte)0;
        var offsets = new int[taps];
        for (int ky = 0; ky < kernel; ky++)
            for (int kx = 0; kx < kernel; kx++) offsets[ky * kernel + kx] = (ky * paddedWidth + kx) * c4;

        var rows = new int[positions * taps * c4];
        for (int p = 0; p < positions; p++)
            for (int t = 0; t < taps; t++)
                for (int c = 0; c < c4; c++) rows[(p * taps + t) * c4 + c] = x[p * stride * c4 + offsets[t] + c];
        var expected = Reference(codes.Select(c => table[c]).ToArray(), outputs, taps * c4, rows, taps * c4, positions);
        int ldc = w.PaddedOutputs;
        var runs = new List<Action<int[]>>
        {
            c => Int8Gemm.Multiply(w, x, offsets, stride * c4, positions, c, ldc),
            c => Int8Gemm.MultiplyPortable(w, x, offsets, stride * c4, positions, c, ldc),
        };
        if (Avx512BW.IsSupported) runs.Add(c => Int8Gemm.MultiplyAvx512(w, x, offsets, stride * c4, positions, c, ldc));
        if (Int8Gemm.IsVnniAccelerated) runs.Add(c => Int8Gemm.MultiplyVnni(w, x, offsets, stride * c4, positions, c, ldc));
        if (Avx2.IsSupported) runs.Add(c => Int8Gemm.MultiplyAvx2(w, x, offsets, stride * c4, positions, c, ldc, maxX));
        var starts = Enumerable.Range(0, positions).Select(p => p * stride * c4).ToArray();
        // The AVX2 tile with AVX-VNNI's quad sums: not on this project's CI machine (no AVX-VNNI), where the tile runs with vpmaddubsw's pairs above.
        if (Int8Gemm.IsAvx2VnniAccelerated) runs.Add(c => Int8Gemm.MultiplyAvx2Vnni(w, x, offsets, starts, c, ldc, maxX, 0, ldc / 16));
        if (Int8Gemm.IsVector128Accelerated) runs.Add(c => Int8Gemm.MultiplyVector128(w, x, offsets, starts, c, ldc, maxX, 0, ldc / 16));
        if (Ssse3.IsSupported) runs.Add(c => Int8Gemm.MultiplyQuads128(w, x, offsets, starts, c, ldc, maxX, 0, ldc / 16));
        // Arm64's sdot sums the same 128-bit quad tile; no Arm machine runs this project's CI.
        if (Int8Gemm.IsDotProductAccelerated && maxX <= 127) runs.Add(c => Int8Gemm.MultiplyDotProduct(w, x, offsets, starts, c, ldc, maxX, 0, ldc / 16));
        foreach (var run in runs)
        {
            var c = new int[positions * ldc];
            run(c);
            AssertSame(expected, c, outputs, positions, ldc);
        }
    }

    /// <summary>
    /// A layer of one output block over a map several output rows tall: the AVX-512 path runs 16 positions a tile where the
    /// last 8 are the first 8 moved by one distance (within a row) and 8 where not (across a row's end), for every slot
    /// width, on small activations (16-bit sums of many quads) and on large ones (a group too short for the 16-position tile).
    /// </summary>
    [Theory]
    [InlineData(2, 3, 0)]
    [InlineData(4, 3, 1)]
    [InlineData(16, 15, 2)]
    [InlineData(200, 3, 3)]
    [InlineData(4, 255, 4)]
    [InlineData(200, 0, 5)]
    public void OneBlockMapsMatchReference(int levels, int maxActivation, int seed)
    {
        var random = new Random(seed);
        int channels = 4 * random.Next(1, 5), outputs = random.Next(1, 17), width = random.Next(17, 41), height = random.Next(2, 4);
        int paddedWidth = width + 2, taps = 9, depth = taps * channels;
        var table = Enumerable.Range(0, levels).Select(_ => random.Next(-40, 41)).ToArray();
        var codes = Enumerable.Range(0, outputs * depth).Select(_ => (byte)random.Next(levels)).ToArray();
        var w = Int8Weights.FromCodes(codes, table, outputs, depth);
        int maxX = maxActivation > 0 ? maxActivation : Math.Min(255, 32767 / (2 * Math.Max(1, w.MaxMagnitude)));
        var x = Enumerable.Range(0, (height + 2) * paddedWidth * channels).Select(_ => (byte)random.Next(maxX + 1)).ToArray();
        var offsets = Enumerable.Range(0, taps).Select(t => ((t / 3) * paddedWidth + t % 3) * channels).ToArray();
        var starts = Enumerable.Range(0, height * width).Select(p => ((p / width) * paddedWidth + p % width) * channels).ToArray();
        var rows = new int[starts.Length * depth];
        for (int p = 0; p < starts.Length; p++)
            for (int t = 0; t < taps; t++)
                for (int c = 0; c < channels; c++) rows[p * depth + t * channels + c] = x[starts[p] + offsets[t] + c];
        var expected = Reference(codes.Select(c => table[c]).ToArray(), outputs, depth, rows, depth, starts.Length);
        int ldc = w.PaddedOutputs;
        var runs = new List<Action<int[]>> { c => Int8Gemm.Multiply(w, x, offsets, starts, c, ldc, maxX) };
        if (Avx512BW.IsSupported) runs.Add(c => Int8Gemm.MultiplyAvx512(w, x, offsets, starts, c, ldc, maxX));
        foreach (var run in runs)
        {
            var c = new int[starts.Length * ldc];
            run(c);
            AssertSame(expected, c, outputs, starts.Length, ldc);
        }
    }

    /// <summary>
    /// Every int16 path gives the reference sums: 8-bit operands, and full 16-bit weights with depths short enough for the
    /// sums to fit 32 bits (the scalar path's two positions a multiply, low half and high half, need that too).
    /// </summary>
    [Theory]
    [InlineData(0, 255)]
    [InlineData(1, 255)]
    [InlineData(2, 255)]
    [InlineData(3, 255)]
    [InlineData(4, 32767)]
    [InlineData(5, 32767)]
    [InlineData(6, 127, 1100)] // past the portable path's stack row of packed position pairs
    [InlineData(7, 255, 1, 48)] // three blocks: the AVX-512 path's two-block tile, then its one-block tile
    [InlineData(8, 32767, 1, 64)]
    public void Int16PathsMatchReference(int seed, int weightMagnitude, int minDepth = 1, int outputs = 0)
    {
        var random = new Random(seed);
        int maxDepth = (int)Math.Min(Math.Max(600, 2 * minDepth), int.MaxValue / (255L * weightMagnitude));
        outputs = outputs > 0 ? outputs : random.Next(1, 50);
        int depth = random.Next(minDepth, maxDepth), positions = random.Next(1, 21);
        if (outputs % 16 == 0) positions = 17; // two 8-position tiles and a single row

        var values = Enumerable.Range(0, outputs * depth).Select(_ => random.Next(-weightMagnitude, weightMagnitude + 1)).ToArray();
        var w = new Int16Weights(values, outputs, depth);
        int ldx = w.PaddedDepth + random.Next(0, 3);
        var x = new short[positions * ldx];
        for (int p = 0; p < positions; p++)
            for (int k = 0; k < depth; k++) x[p * ldx + k] = (short)random.Next(-255, 256);
        var expected = Reference(values, outputs, depth, x.Select(v => (int)v).ToArray(), ldx, positions);
        int ldc = w.PaddedOutputs;
        var runs = Int16Runs(w, x, w.ContiguousPairs, Enumerable.Range(0, positions).Select(p => p * ldx).ToArray(), ldc);
        runs.Add(c => Int16Gemm.Multiply(w, x, ldx, positions, c, ldc));
        foreach (var run in runs)
        {
            var c = new int[positions * ldc];
            run(c);
            AssertSame(expected, c, outputs, positions, ldc);
        }
    }

    /// <summary>
    /// Every int16 path over depth pairs read in place (a convolution's padded plane): random pair offsets, overlapping and
    /// out of order, and position starts, against the sums of the rows those pairs make.
    /// </summary>
    [Theory]
    [InlineData(0, 255, 0)]
    [InlineData(1, 255, 0)]
    [InlineData(2, 32767, 0)]
    [InlineData(3, 255, 48)] // the AVX-512 path's two-block tile, then its one-block tile
    [InlineData(4, 127, 32)]
    public void Int16PairPathsMatchReference(int seed, int weightMagnitude, int outputs)
    {
        var random = new Random(seed);
        outputs = outputs > 0 ? outputs : random.Next(1, 50);
        int pairs = random.Next(1, 40), positions = random.Next(1, 30), depth = 2 * pairs - random.Next(2);
        var values = Enumerable.Range(0, outputs * depth).Select(_ => random.Next(-weightMagnitude, weightMagnitude + 1)).ToArray();
        var w = new Int16Weights(values, outputs, depth);
        var x = Enumerable.Range(0, 500).Select(_ => (short)random.Next(-255, 256)).ToArray();
        var offsets = Enumerable.Range(0, pairs).Select(_ => random.Next(0, 200)).ToArray();
        var starts = Enumerable.Range(0, positions).Select(_ => random.Next(0, 298 - 200)).ToArray();
        var rows = new int[positions * 2 * pairs];
        for (int p = 0; p < positions; p++)
            for (int k = 0; k < depth; k++) rows[p * 2 * pairs + k] = x[starts[p] + offsets[k / 2] + k % 2];
        var expected = Reference(values, outputs, depth, rows, 2 * pairs, positions);
        int ldc = w.PaddedOutputs;
        foreach (var run in Int16Runs(w, x, offsets, starts, ldc))
        {
            var c = new int[positions * ldc];
            run(c);
            AssertSame(expected, c, outputs, positions, ldc);
        }
        Assert.Throws<ArgumentException>(() => Int16Gemm.Multiply(w, x, offsets[1..], starts, new int[positions * ldc], ldc));
        Assert.Throws<ArgumentException>(() => Int16Gemm.Multiply(w, x.AsSpan(0, starts.Max() + offsets.Max() + 1), offsets, starts, new int[positions * ldc], ldc));
    }

    /// <summary>Every int16 path this machine runs, over the depth pairs at <paramref name="offsets"/> from each of <paramref name="starts"/>.</summary>
    private static List<Action<int[]>> Int16Runs(Int16Weights w, short[] x, int[] offsets, int[] starts, int ldc)
    {
        var runs = new List<Action<int[]>> { c => Int16Gemm.Multiply(w, x, offsets, starts, c, ldc), c => Int16Gemm.MultiplyPortable(w, x, offsets, starts, c, ldc) };
        if (Avx512BW.IsSupported) runs.Add(c => Int16Gemm.MultiplyAvx512(w, x, offsets, starts, c, ldc));
        if (Avx2.IsSupported) runs.Add(c => Int16Gemm.MultiplyAvx2(w, x, offsets, starts, c, ldc));
        if (Int16Gemm.IsVector128Accelerated) runs.Add(c => Int16Gemm.MultiplyVector128(w, x, offsets, starts, c, ldc));
        return runs;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void FloatPathsMatchReferenceBitForBit(int seed)
    {
        var random = new Random(seed);
        int outputs = random.Next(1, 50), depth = random.Next(1, 300), positions = random.Next(1, 21);
        var values = Enumerable.Range(0, outputs * depth).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var x = Enumerable.Range(0, positions * depth).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var expected = new float[positions * outputs];
        GemmReference.Multiply(values, outputs, depth, x, depth, positions, expected);
        var w = new FloatWeights(values, outputs, depth);
        int ldc = w.PaddedOutputs;
        var runs = new List<Action<float[]>> { c => FloatGemm.Multiply(w, x, depth, positions, c, ldc), c => FloatGemm.MultiplyPortable(w, x, depth, positions, c, ldc) };
        if (Avx512F.IsSupported) runs.Add(c => FloatGemm.MultiplyAvx512(w, x, depth, positions, c, ldc));
        if (Avx2.IsSupported && Fma.IsSupported) runs.Add(c => FloatGemm.MultiplyAvx2(w, x, depth, positions, c, ldc));
        foreach (var run in runs)
        {
            var c = new float[positions * ldc];
            run(c);
            for (int p = 0; p < positions; p++)
                for (int o = 0; o < outputs; o++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(expected[p * outputs + o]), BitConverter.SingleToInt32Bits(c[p * ldc + o]));
        }
    }

    private delegate void Int8Run(Int8Weights w, byte[] x, int ldx, int positions, int[] c, int ldc);

    private static IEnumerable<Int8Run> Int8Runs()
    {
        yield return (w, x, ldx, p, c, ldc) => Int8Gemm.Multiply(w, x, ldx, p, c, ldc);
        yield return (w, x, ldx, p, c, ldc) => Int8Gemm.MultiplyPortable(w, x, ldx, p, c, ldc);
        if (Avx512BW.IsSupported) yield return (w, x, ldx, p, c, ldc) => Int8Gemm.MultiplyAvx512(w, x, ldx, p, c, ldc);
        if (Int8Gemm.IsVnniAccelerated) yield return (w, x, ldx, p, c, ldc) => Int8Gemm.MultiplyVnni(w, x, ldx, p, c, ldc);
        if (Avx2.IsSupported) yield return (w, x, ldx, p, c, ldc) => Int8Gemm.MultiplyAvx2(w, x, ldx, p, c, ldc, Math.Min(255, 32767 / (2 * Math.Max(1, w.MaxMagnitude))));
        if (Int8Gemm.IsVector128Accelerated)
            yield return (w, x, ldx, p, c, ldc) => Int8Gemm.MultiplyVector128(w, x, new[] { 0 }, Enumerable.Range(0, p).Select(i => i * ldx).ToArray(), c, ldc,
                Math.Min(255, 32767 / (2 * Math.Max(1, w.MaxMagnitude))), 0, w.PaddedOutputs / 16);
        if (Ssse3.IsSupported)
            yield return (w, x, ldx, p, c, ldc) => Int8Gemm.MultiplyQuads128(w, x, new[] { 0 }, Enumerable.Range(0, p).Select(i => i * ldx).ToArray(), c, ldc,
                Math.Min(255, 32767 / (2 * Math.Max(1, w.MaxMagnitude))), 0, w.PaddedOutputs / 16);
    }

    /// <summary>
    /// 8-bit weights on activations over the whole byte range, where vpmaddubsw's pair sums would saturate: the fastest
    /// path (VNNI where the machine has it) and the portable one stay exact, over random output-block ranges too.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void FullRangeBytesStayExactOverOutputBlocks(int seed)
    {
        var random = new Random(seed + 100);
        int outputs = random.Next(17, 70), depth = 4 * random.Next(1, 150), positions = random.Next(1, 23);
        var table = Enumerable.Range(-128, 256).ToArray();
        var codes = Enumerable.Range(0, outputs * depth).Select(_ => (byte)random.Next(table.Length)).ToArray();
        var w = Int8Weights.FromCodes(codes, table, outputs, depth);
        Assert.Equal(Int8Gemm.IsAvx2VnniAccelerated, Int8Gemm.IsExact(255, table.Min(), table.Max()));
        var x = Enumerable.Range(0, positions * w.PaddedDepth).Select(_ => (byte)random.Next(200, 256)).ToArray();
        var starts = Enumerable.Range(0, positions).Select(p => p * w.PaddedDepth).ToArray();
        var expected = Reference(codes.Select(c => table[c]).ToArray(), outputs, depth, x.Select(v => (int)v).ToArray(), w.PaddedDepth, positions);
        int ldc = w.PaddedOutputs, blocks = ldc / 16, first = random.Next(blocks), count = random.Next(1, blocks - first + 1);
        var runs = new List<Action<int[]>>
        {
            c => Int8Gemm.Multiply(w, x, new[] { 0 }, starts, c, ldc, 255, first, count),
            c => Int8Gemm.MultiplyPortable(w, x, new[] { 0 }, starts, c, ldc, first, count),
        };
        if (Int8Gemm.IsVnniAccelerated) runs.Add(c => Int8Gemm.MultiplyVnni(w, x, new[] { 0 }, starts, c, ldc, first, count));
        if (Int8Gemm.IsAvx2VnniAccelerated) runs.Add(c => Int8Gemm.MultiplyAvx2Vnni(w, x, new[] { 0 }, starts, c, ldc, 255, first, count));
        foreach (var run in runs)
        {
            var c = new int[positions * ldc];
            run(c);
            for (int p = 0; p < positions; p++)
                for (int o = 0; o < outputs; o++)
                    Assert.Equal(o / 16 >= first && o / 16 < first + count ? expected[p * outputs + o] : 0, c[p * ldc + o]);
        }
    }

    /// <summary>
    /// One activation row (an LSTM step, a linear layer at batch 1): the single-row path (Int8GemmRow.cs) where the weights laid
    /// out one byte each fit <see cref="Int8Gemm.RowPathMaxBytes"/>, with four-block groups, a one-block tail, 16-bit sums widened
    /// after every quad where the bound demands it, and output-block ranges; the tiles beyond that size. Both exactly the reference.
    /// </summary>
    [Theory]
    [InlineData(4, 128, 512, true)] // TextLstm's recurrent product
    [InlineData(16, 300, 70, true)]
    [InlineData(200, 520, 37, true)]
    [InlineData(2, 1024, 300, false)]
    [InlineData(3, 36, 20, true)]
    public void SingleRowPathMatchesReference(int levels, int depth, int outputs, bool rowPath)
    {
        var random = new Random(levels * 1000 + depth);
        var table = Enumerable.Range(0, levels).Select(_ => random.Next(-128, 128)).ToArray();
        var codes = Enumerable.Range(0, outputs * depth).Select(_ => (byte)random.Next(levels)).ToArray();
        var w = Int8Weights.FromCodes(codes, table, outputs, depth);
        Assert.Equal(rowPath, Int8Gemm.TakesRowPath(w, taps: 1, positions: 1));
        int maxX = Math.Min(255, 32767 / (2 * Math.Max(1, w.MaxMagnitude)));
        var x = new byte[w.PaddedDepth + random.Next(0, 9)];
        for (int k = 0; k < depth; k++) x[k] = (byte)random.Next(maxX + 1);
        var expected = Reference(codes.Select(c => table[c]).ToArray(), outputs, depth, x.Select(v => (int)v).ToArray(), x.Length, 1);
        int ldc = w.PaddedOutputs, blocks = ldc / 16;
        foreach (var (first, count) in new[] { (0, blocks), (random.Next(blocks), -1) })
        {
            int n = count < 0 ? random.Next(1, blocks - first + 1) : count;
            var runs = new List<Action<int[]>> { c => Int8Gemm.Multiply(w, x, new[] { 0 }, new[] { 0 }, c, ldc, maxX, first, n) };
            if (Avx512BW.IsSupported) runs.Add(c => Int8Gemm.MultiplyAvx512(w, x, new[] { 0 }, new[] { 0 }, c, ldc, maxX, first, n));
            foreach (var run in runs)
            {
                var c = new int[ldc];
                run(c);
                for (int o = 0; o < outputs; o++) Assert.Equal(o / 16 >= first && o / 16 < first + n ? expected[o] : 0, c[o]);
            }
        }
    }

    /// <summary>
    /// The portable path's fields (Int8GemmFields.cs): 8-bit fields, 16-bit fields and the plain loop, each chosen by the weights'
    /// range and the activation bound, with depths long enough to flush the fields many times (and the 8-bit path's 16-bit
    /// sums too), over taps, position tiles and output-block ranges: the reference's sums exactly.
    /// </summary>
    [Theory]
    [InlineData(new[] { -2, -1, 0, 1 }, 3, 300, 8)]
    [InlineData(new[] { 2, 3 }, 50, 200, 8)]
    [InlineData(new[] { -3, 4 }, 9, 1100, 8)]
    [InlineData(new[] { -3, -1, 1, 3 }, 15, 500, 16)]
    [InlineData(new[] { -7, -3, 0, 2, 5, 8, 1, -1, 4 }, 15, 700, 16)]
    [InlineData(new[] { -127, 127 }, 120, 400, 16)]
    [InlineData(new[] { -127, 0, 127 }, 255, 100, 0)]
    public void Int8FieldPathMatchesReference(int[] table, int maxX, int depthPerTap, int expectedBits)
    {
        var random = new Random(depthPerTap + maxX);
        foreach (int taps in new[] { 1, 3 })
        {
            int outputs = random.Next(1, 45), quads = (depthPerTap + 3) / 4, depth = taps * 4 * quads, positions = random.Next(1, 12);
            var codes = Enumerable.Range(0, outputs * depth).Select(_ => (byte)random.Next(table.Length)).ToArray();
            var w = Int8Weights.FromCodes(codes, table, outputs, depth);
            Assert.Equal(expectedBits, Int8Gemm.FieldBits(w, maxX));
            var offsets = Enumerable.Range(0, taps).Select(t => t * (4 * quads + 8)).ToArray();
            int stride = random.Next(1, 9), span = offsets[^1] + 4 * quads;
            var x = Enumerable.Range(0, (positions - 1) * stride + span).Select(_ => (byte)random.Next(maxX + 1)).ToArray();
            var starts = Enumerable.Range(0, positions).Select(p => p * stride).ToArray();
            var rows = new int[positions * depth];
            for (int p = 0; p < positions; p++)
                for (int t = 0; t < taps; t++)
                    for (int k = 0; k < 4 * quads; k++) rows[p * depth + t * 4 * quads + k] = x[starts[p] + offsets[t] + k];
            var expected = Reference(codes.Select(c => table[c]).ToArray(), outputs, depth, rows, depth, positions);
            int ldc = w.PaddedOutputs + 16 * random.Next(2), blocks = w.PaddedOutputs / 16, first = random.Next(blocks), count = random.Next(1, blocks - first + 1);
            var c = new int[positions * ldc];
            Int8Gemm.MultiplyPortable(w, x, offsets, starts, c, ldc, first, count, maxX);
            for (int p = 0; p < positions; p++)
                for (int o = 0; o < outputs; o++)
                    Assert.Equal(o / 16 >= first && o / 16 < first + count ? expected[p * outputs + o] : 0, c[p * ldc + o]);
        }
    }

    private static int[] Reference(int[] w, int outputs, int depth, int[] x, int ldx, int positions)
    {
        var c = new int[positions * outputs];
        GemmReference.Multiply(w, outputs, depth, x, ldx, positions, c);
        return c;
    }

    private static void AssertSame(int[] expected, int[] actual, int outputs, int positions, int ldc)
    {
        for (int p = 0; p < positions; p++)
            for (int o = 0; o < outputs; o++)
                Assert.Equal(expected[p * outputs + o], actual[p * ldc + o]);
    }
}
