using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Schemes;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Runtime;

/// <summary>
/// The fused epilogue's vector paths (AVX-512; AVX2 in the no-AVX-512 CI leg) write exactly the codes of its scalar path, for
/// both target layouts, with and without ReLU and pool, and the scalar path (levels from the accumulators up to 16 levels,
/// from floats over them) those of the unfused formula, for negative and zero scales too.
/// </summary>
public class ActivationEpilogueTests
{
    [Theory]
    [InlineData(32, 7, 7, 1, true, true, 4)]
    [InlineData(48, 8, 6, 2, true, true, 4)]
    [InlineData(16, 7, 7, 2, false, true, 4)]
    [InlineData(32, 6, 6, 3, true, false, 4)]
    [InlineData(20, 5, 5, 1, true, false, 4)]
    [InlineData(128, 7, 7, 2, true, false, 4)] // VggSmall's last convolution: shorts for the linear layer, a 2×2 pool dropping a row and a column
    [InlineData(32, 6, 6, 2, true, true, 16)]
    [InlineData(20, 5, 5, 1, false, false, 16)]
    [InlineData(32, 6, 6, 2, true, true, 40)] // over 16 levels: the float path
    [InlineData(20, 5, 5, 1, false, false, 40)]
    public void VectorPathWritesTheScalarPathsCodes(int outputs, int height, int width, int pool, bool relu, bool paddedBytes, int levelCount)
    {
        var random = new Random(outputs * 31 + height * 7 + pool + levelCount);
        // Levels −1 .. levelCount − 2 in steps of 1, thresholds half-way, the scale putting the accumulators' values across them.
        var grid = new QuantizationGrid((int)Math.Ceiling(Math.Log2(levelCount)), new[] { 1f / levelCount }, Enumerable.Range(-1, levelCount).Select(l => (float)l).ToArray(),
            Enumerable.Range(0, levelCount - 1).Select(k => k - 0.5f).ToArray(), null);
        var codec = new ActivationCodec(grid);
        int outHeight = height / pool, outWidth = width / pool;
        var target = paddedBytes
            ? new ValueSlot(0, new[] { outputs, outHeight, outWidth }, codec, SlotLayout.PaddedBytes, 1)
            : new ValueSlot(0, new[] { outputs * outHeight * outWidth }, codec, SlotLayout.Shorts);
        int ldc = (outputs + 15) & ~15;
        var acc = Enumerable.Range(0, height * width * ldc).Select(_ => random.Next(-400, 400)).ToArray();
        // Every third scale negative (a folded BatchNorm's may be) and every seventh zero.
        var mul = Enumerable.Range(0, outputs).Select(o => o % 7 == 5 ? 0f : (float)(random.NextDouble() * 0.01) * (o % 3 == 1 ? -1 : 1)).ToArray();
        var add = Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var correction = Enumerable.Range(0, outputs).Select(_ => random.Next(-50, 50)).ToArray();
        var epilogue = new ActivationEpilogue(correction, mul, add, relu, pool, width, outHeight, outWidth, target);
        Assert.Equal(levelCount <= 16, codec.InputThresholds is not null);
        var scalar = new Workspace(new[] { target });
        var vector = new Workspace(new[] { target });
        foreach (var (ws, vectorized) in new[] { (scalar, false), (vector, true) })
        {
            epilogue.Begin(ws);
            epilogue.Write(acc, ldc, 0, ldc / 16, 0, epilogue.Rows, ws, vectorized);
        }
        if (paddedBytes) Assert.Equal(scalar.Bytes(target), vector.Bytes(target));
        else Assert.Equal(scalar.Shorts(target), vector.Shorts(target));
        // Rows written in two parts, as threads share them, give the same target.
        var parts = new Workspace(new[] { target });
        epilogue.Begin(parts);
        int split = epilogue.Rows / 2;
        epilogue.Write(acc, ldc, 0, ldc / 16, split, epilogue.Rows - split, parts);
        epilogue.Write(acc, ldc, 0, ldc / 16, 0, split, parts);
        if (paddedBytes) Assert.Equal(scalar.Bytes(target), parts.Bytes(target));
        else Assert.Equal(scalar.Shorts(target), parts.Shorts(target));
        // The scalar path (the only one in the scalar CI leg) by the formula: the level of the pooled max of ReLU(affine).
        for (int o = 0; o < outputs; o++)
            for (int oy = 0; oy < outHeight; oy++)
                for (int ox = 0; ox < outWidth; ox++)
                {
                    float best = float.NegativeInfinity;
                    for (int dy = 0; dy < pool; dy++)
                        for (int dx = 0; dx < pool; dx++)
                        {
                            float v = (acc[((oy * pool + dy) * width + ox * pool + dx) * ldc + o] - correction[o]) * mul[o] + add[o];
                            best = Math.Max(best, relu ? Math.Max(v, 0f) : v);
                        }
                    int level = codec.Integers![codec.Encode(best)];
                    if (paddedBytes) Assert.Equal(level - codec.MinInteger, scalar.Bytes(target)[((oy + 1) * (outWidth + 2) + 1 + ox) * target.PaddedChannels + o]);
                    else Assert.Equal(level, scalar.Shorts(target)[(o * outHeight + oy) * outWidth + ox]);
                }
        // Every code came from the grid: some values of each level, so the comparison above is not of blanks.
        var levels = paddedBytes ? scalar.Bytes(target).Select(b => (int)b).ToArray() : scalar.Shorts(target).Select(s => (int)s).ToArray();
        Assert.True(levels.Distinct().Count() >= 3, $"only {levels.Distinct().Count()} distinct codes");
    }

    /// <summary>
    /// With float maps (a residual added before the ReLU, the float map written besides the codes: a residual block's second
    /// convolution), the vector paths write the scalar path's codes and floats bit for bit, and the scalar path gives the separate
    /// steps' values: affine, add, ReLU, quantizer. Maps channel-major (tiles of 16 positions, AVX2 8, transposed in registers)
    /// and channels-last (pixel by pixel where every map is, tiles where one is not), maps whose rows are not whole tiles, ranges
    /// of rows as threads split them, NaN and −0 in the residual.
    /// </summary>
    [Theory]
    [InlineData(32, 8, 8, true, true, true, true, false, false)]
    [InlineData(16, 7, 7, true, true, true, false, false, false)]
    [InlineData(48, 5, 6, false, true, true, true, false, false)]
    [InlineData(32, 4, 9, true, false, true, true, false, false)]
    [InlineData(20, 6, 6, true, true, false, true, false, false)]
    [InlineData(32, 3, 5, true, true, true, false, false, false)]
    [InlineData(32, 8, 8, true, true, true, true, true, true)]
    [InlineData(48, 5, 7, true, true, true, true, true, true)]
    [InlineData(20, 6, 6, true, true, true, true, true, true)]
    [InlineData(32, 7, 7, true, false, true, true, true, false)]
    [InlineData(16, 6, 6, false, true, false, true, false, true)]
    [InlineData(32, 5, 5, true, true, true, true, true, false)]
    [InlineData(16, 7, 7, true, true, true, false, true, true)]
    public void MapsPathWritesTheScalarPathsCodesAndFloats(int outputs, int height, int width, bool withResidual, bool withFloats, bool relu, bool paddedBytes,
        bool residualLast, bool floatsLast)
    {
        var random = new Random(outputs * 17 + height * 5 + width);
        var codec = new ActivationCodec(new QuantizationGrid(2, new[] { 0.25f }, new float[] { -1, 0, 1, 2 }, new[] { -0.5f, 0.5f, 1.5f }, null));
        var target = paddedBytes
            ? new ValueSlot(0, new[] { outputs, height, width }, codec, SlotLayout.PaddedBytes, 1)
            : new ValueSlot(0, new[] { outputs, height, width }, codec, SlotLayout.Shorts);
        var residual = new ValueSlot(1, new[] { outputs, height, width }, null, residualLast ? SlotLayout.ChannelsLast : SlotLayout.Floats);
        var floats = new ValueSlot(2, new[] { outputs, height, width }, null, floatsLast ? SlotLayout.ChannelsLast : SlotLayout.Floats);
        int ldc = (outputs + 15) & ~15, plane = height * width;
        var acc = Enumerable.Range(0, plane * ldc).Select(_ => random.Next(-400, 400)).ToArray();
        var mul = Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() * 0.004)).ToArray();
        var add = Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var correction = Enumerable.Range(0, outputs).Select(_ => random.Next(-50, 50)).ToArray();
        var shortcut = Enumerable.Range(0, outputs * plane).Select(i => i % 97 == 5 ? float.NaN : i % 89 == 3 ? -0f : (float)(random.NextDouble() * 1.2 - 0.4)).ToArray();
        var epilogue = new ActivationEpilogue(correction, mul, add, relu, 1, width, height, width, target, withResidual ? residual : null, withFloats ? floats : null);
        var slots = new[] { target, residual, floats };
        Workspace Run(bool vectorized, params (int First, int Rows)[] parts)
        {
            var ws = new Workspace(slots);
            shortcut.CopyTo(ws.Floats(residual), 0);
            Array.Fill(ws.Floats(floats), 7f);
            epilogue.Begin(ws);
            foreach (var (first, rows) in parts) epilogue.Write(acc, ldc, 0, ldc / 16, first, rows, ws, vectorized);
            return ws;
        }
        var scalar = Run(false, (0, height));
        int split = height / 2;
        foreach (var vector in new[] { Run(true, (0, height)), Run(true, (split, height - split), (0, split)) })
        {
            if (paddedBytes) Assert.Equal(scalar.Bytes(target), vector.Bytes(target));
            else Assert.Equal(scalar.Shorts(target), vector.Shorts(target));
            Assert.Equal(scalar.Floats(floats).Select(BitConverter.SingleToInt32Bits), vector.Floats(floats).Select(BitConverter.SingleToInt32Bits));
        }
        // The scalar path by the separate steps' formula, each map read and written in its own order; the float map untouched without floats.
        for (int o = 0; o < outputs; o++)
            for (int p = 0; p < plane; p++)
            {
                float v = (acc[p * ldc + o] - correction[o]) * mul[o] + add[o];
                if (withResidual) v += shortcut[residualLast ? p * outputs + o : o * plane + p];
                if (relu) v = Math.Max(v, 0f);
                Assert.Equal(BitConverter.SingleToInt32Bits(withFloats ? v : 7f), BitConverter.SingleToInt32Bits(scalar.Floats(floats)[floatsLast ? p * outputs + o : o * plane + p]));
                int level = codec.Integers![codec.Encode(v)], row = p / width, col = p % width;
                if (paddedBytes) Assert.Equal(level - codec.MinInteger, scalar.Bytes(target)[((row + 1) * (width + 2) + 1 + col) * target.PaddedChannels + o]);
                else Assert.Equal(level, scalar.Shorts(target)[o * plane + p]);
            }
        Assert.Throws<ArgumentException>(() => new ActivationEpilogue(correction, mul, add, relu, 2, width, height / 2, width / 2,
            new ValueSlot(0, new[] { outputs, height / 2, width / 2 }, codec, SlotLayout.Shorts), residual));
    }

    /// <summary>
    /// A channels-last map quantizes into a direct convolution's padded bytes, shorts or floats exactly as its channel-major copy
    /// does (the bytes pixel by pixel on the vector path, 16 channels at a time, AVX2 8, the rest one by one), and an add reading a
    /// channels-last operand gives the channel-major sum.
    /// </summary>
    [Theory]
    [InlineData(16, 8, 8)]
    [InlineData(40, 5, 7)]
    [InlineData(3, 9, 9)]
    public void ChannelsLastMapsQuantizeAndAddAsChannelMajorOnes(int channels, int height, int width)
    {
        var random = new Random(channels + height);
        var codec = new ActivationCodec(new QuantizationGrid(2, new[] { 0.25f }, new float[] { -1, 0, 1, 2 }, new[] { -0.5f, 0.5f, 1.5f }, null));
        int[] shape = { channels, height, width };
        int plane = height * width;
        var major = new ValueSlot(0, shape, null);
        var last = new ValueSlot(1, shape, null, SlotLayout.ChannelsLast);
        var targets = new[]
        {
            new ValueSlot(2, shape, codec, SlotLayout.PaddedBytes, 1), new ValueSlot(3, shape, codec, SlotLayout.PaddedBytes, 1),
            new ValueSlot(4, shape, codec, SlotLayout.Shorts), new ValueSlot(5, shape, codec, SlotLayout.Shorts),
        };
        var sum = new ValueSlot(6, shape, null);
        var expected = new ValueSlot(7, shape, null);
        var ws = new Workspace(new[] { major, last }.Concat(targets).Append(sum).Append(expected).ToArray());
        var values = Enumerable.Range(0, channels * plane).Select(_ => (float)(random.NextDouble() * 1.4 - 0.45)).ToArray();
        values.CopyTo(ws.Floats(major), 0);
        for (int c = 0; c < channels; c++)
            for (int p = 0; p < plane; p++) ws.Floats(last)[p * channels + c] = values[c * plane + p];
        for (int t = 0; t < targets.Length; t += 2)
        {
            new Microsoft.ML.Quantization.Runtime.Steps.QuantizeStep("major", major, targets[t]).Run(ws);
            new Microsoft.ML.Quantization.Runtime.Steps.QuantizeStep("last", last, targets[t + 1]).Run(ws);
        }
        Assert.Equal(ws.Bytes(targets[0]), ws.Bytes(targets[1]));
        Assert.Equal(ws.Shorts(targets[2]), ws.Shorts(targets[3]));
        Assert.True(ws.Shorts(targets[2]).Distinct().Count() >= 3, "the levels are not all alike");
        // The bytes' encoder alone: vector and scalar alike.
        var vector = new byte[values.Length];
        var scalar = new byte[values.Length];
        codec.EncodeBytes(values, vector, 1);
        codec.EncodeBytes(values, scalar, 1, vectorized: false);
        Assert.Equal(scalar, vector);
        Assert.Equal(values.Select(v => (byte)(codec.Integers![codec.Encode(v)] + 1)), scalar);
        Microsoft.ML.Quantization.Runtime.Steps.ElementwiseStep.Add("add", last, major, sum).Run(ws);
        Microsoft.ML.Quantization.Runtime.Steps.ElementwiseStep.Add("add", major, major, expected).Run(ws);
        Assert.Equal(ws.Floats(expected), ws.Floats(sum));
    }

    /// <summary>
    /// The vector encoder gives Encode's integer level for every value, and so does a grid of up to 4 levels held in registers
    /// (<see cref="ActivationCodec.InRegisters"/>, <see cref="ActivationCodec.InRegisters256"/>): grids of 3 to 256 levels (up to 16 by comparing inputs
    /// with precomputed bounds instead of dividing, above 16 the estimate and correction, its thresholds computed on an exact progression and gathered where moved by up to
    /// 0.45 of a step), values on thresholds and one float either side of them, ±∞ and NaN. Further from
    /// uniform, a grid of over 16 levels stays on the scalar encoder. So does the scalar encoder of up to 16 levels: estimate
    /// and correction near uniform, every compare beyond (the 16-level grid with a threshold moved by 0.7 of a step).
    /// </summary>
    [Theory]
    [InlineData(4, 0.0)]
    [InlineData(4, 0.3)]
    [InlineData(3, 0.2)]
    [InlineData(16, 0.3)]
    [InlineData(16, 0.8)]
    [InlineData(17, 0.0)]
    [InlineData(200, 0.45)]
    [InlineData(256, 0.0)]
    [InlineData(256, 0.45)]
    [InlineData(256, 0.8)]
    public void VectorEncoderMatchesScalarEncode(int levels, double jitter)
    {
        var random = new Random(levels);
        var levelValues = Enumerable.Range(0, levels).Select(i => (float)i - levels / 2).ToArray();
        var thresholds = Enumerable.Range(0, levels - 1).Select(i => levelValues[i] + 0.5f + (i is 0 || i == levels - 2 || jitter > 0.5 ? 0 : (float)((random.NextDouble() * 2 - 1) * jitter))).ToArray();
        if (jitter > 0.5) thresholds[levels / 2] += (float)jitter - 0.1f; // beyond half a step from uniform, still below the next
        float scale = jitter > 0 ? 0.1f : 0.125f; // 0.1 makes x / s round, where a bound off by one float would show
        var codec = new ActivationCodec(new QuantizationGrid(8, new[] { scale }, levelValues, thresholds, null));
        // Without AVX-512 (DOTNET_EnableAVX512=0 or DOTNET_EnableHWIntrinsic=0 in .ci/run) no grid takes the 16-wide encoder.
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx512F.IsSupported && (levels <= 16 || jitter < 0.5), codec.IsVectorized);
        // Over 16 levels on an exact arithmetic progression (no jitter) the vector encoders compute the thresholds beside the estimate instead of gathering them.
        Assert.Equal(levels > 16 && jitter == 0, codec.CountsByArithmetic);
        // Without AVX-512 but with AVX2 (the DOTNET_EnableAVX512=0 leg) the same grids take the 8-wide encoder.
        Assert.Equal(!System.Runtime.Intrinsics.X86.Avx512F.IsSupported && System.Runtime.Intrinsics.X86.Avx2.IsSupported && (levels <= 16 || jitter < 0.5), codec.IsVectorized256);
        var values = Enumerable.Range(0, 4096).Select(_ => (float)((random.NextDouble() - 0.5) * (levels + 8) * scale))
            .Concat(thresholds.SelectMany(t => new[] { t * scale, MathF.BitDecrement(t * scale), MathF.BitIncrement(t * scale), MathF.BitIncrement(MathF.BitIncrement(t * scale)) })).Concat(new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN, 0f, -0f })
            .ToArray();
        values = values.Concat(new float[(16 - values.Length % 16) % 16]).ToArray();
        // The scalar paths' run encoder (the grid in registers) gives the same levels.
        var run = new int[values.Length];
        codec.EncodeIntegerRun(values, run);
        for (int i = 0; i < values.Length; i++) Assert.Equal(codec.Integers![codec.Encode(values[i])], run[i]);
        for (int i = 0; i < values.Length; i += 16)
        {
            // Every path's reference: the count of thresholds at or below x / s picks the level (the grid's codes are in order).
            for (int j = 0; j < 16; j++)
            {
                Assert.Equal(codec.Integers![thresholds.Count(t => t <= values[i + j] / scale)], codec.Integers![codec.Encode(values[i + j])]);
                Assert.Equal(codec.Integers![codec.Encode(values[i + j])], codec.EncodeInteger(values[i + j])); // the scalar paths' encoder, without the division
            }
            if (codec.IsVectorized)
            {
                var vector = codec.EncodeIntegers(System.Runtime.Intrinsics.Vector512.Create(values, i));
                for (int j = 0; j < 16; j++) Assert.Equal(codec.Integers![codec.Encode(values[i + j])], vector[j]);
                // Grids of up to 4 levels also in registers (the epilogue's pixel loops).
                if (codec.InRegisters is { } grid)
                {
                    var held = grid.Encode(System.Runtime.Intrinsics.Vector512.Create(values, i));
                    for (int j = 0; j < 16; j++) Assert.Equal(vector[j], held[j]);
                }
            }
            Assert.Equal(codec.IsVectorized && levels <= 4, codec.InRegisters is not null);
            if (codec.IsVectorized256)
            {
                for (int half = 0; half < 16; half += 8)
                {
                    var vector = codec.EncodeIntegers256(System.Runtime.Intrinsics.Vector256.Create(values, i + half));
                    for (int j = 0; j < 8; j++) Assert.Equal(codec.Integers![codec.Encode(values[i + half + j])], vector[j]);
                    if (codec.InRegisters256 is { } grid)
                    {
                        var held = grid.Encode(System.Runtime.Intrinsics.Vector256.Create(values, i + half));
                        for (int j = 0; j < 8; j++) Assert.Equal(vector[j], held[j]);
                    }
                }
            }
            Assert.Equal(codec.IsVectorized256 && levels <= 4, codec.InRegisters256 is not null);
        }
    }

    /// <summary>
    /// A quantize step's channel-major planes land as the same bytes of the padded channels-last layout on the gather path
    /// as on the element-wise one: channel counts with and without a remainder past 16 (an image's 3, whose every value the
    /// remainder takes), odd planes, padding between pixels, 2- and 8-bit grids.
    /// </summary>
    [Theory]
    [InlineData(16, 4, 4, 1, 16, 2)]
    [InlineData(32, 7, 5, 1, 32, 2)]
    [InlineData(40, 3, 9, 2, 48, 2)]
    [InlineData(5, 6, 6, 1, 16, 2)]
    [InlineData(64, 8, 8, 1, 64, 2)]
    [InlineData(16, 32, 32, 1, 16, 2)]
    [InlineData(3, 9, 11, 3, 4, 8)]
    [InlineData(21, 5, 7, 1, 24, 8)]
    public void TiledPlanesMatchElementWisePlanes(int channels, int height, int width, int padding, int paddedChannels, int bits)
    {
        var random = new Random(channels * 7 + height);
        int levels = 1 << bits;
        var codec = new ActivationCodec(new QuantizationGrid(bits, new[] { 0.25f }, Enumerable.Range(-1, levels).Select(k => (float)k).ToArray(),
            Enumerable.Range(0, levels - 1).Select(k => k - 0.5f).ToArray(), null));
        int paddedWidth = width + 2 * padding;
        var pixels = new int[height * width];
        for (int row = 0; row < height; row++)
            for (int col = 0; col < width; col++) pixels[row * width + col] = ((row + padding) * paddedWidth + padding + col) * paddedChannels;
        var values = Enumerable.Range(0, channels * height * width).Select(_ => (float)((random.NextDouble() * (levels + 0.8) - 1.6) * 0.25)).ToArray();
        int length = (height + 2 * padding) * paddedWidth * paddedChannels;
        var scalar = Enumerable.Repeat((byte)7, length).ToArray();
        var vector = Enumerable.Repeat((byte)7, length).ToArray();
        codec.EncodePlanes(values, channels, scalar, pixels, offset: 1, vectorized: false);
        codec.EncodePlanes(values, channels, vector, pixels, offset: 1);
        Assert.Equal(scalar, vector);
        // As threads share the map: whole tiles of 16 pixels each, in two ranges that split it, give the same bytes.
        var halves = Enumerable.Repeat((byte)7, length).ToArray();
        int split = pixels.Length / 32 * 16;
        codec.EncodePlanes(values, channels, halves, pixels, 1, split, pixels.Length);
        codec.EncodePlanes(values, channels, halves, pixels, 1, 0, split);
        Assert.Equal(scalar, halves);
        Assert.Throws<ArgumentOutOfRangeException>(() => codec.EncodePlanes(values, channels, halves, pixels, 1, 8, pixels.Length));
        // Each value's byte is its level plus the offset, and the bytes between pixels are left alone.
        for (int c = 0; c < channels; c++)
            for (int p = 0; p < pixels.Length; p++) Assert.Equal(codec.Integers![codec.Encode(values[c * pixels.Length + p])] + 1, scalar[pixels[p] + c]);
        var written = new bool[length];
        foreach (int pixel in pixels)
            for (int c = 0; c < channels; c++) written[pixel + c] = true;
        Assert.All(Enumerable.Range(0, length).Where(i => !written[i]), i => Assert.Equal(7, scalar[i]));
    }

    /// <summary>
    /// The float epilogue of integer accumulators writes the same floats on its vector path (16×16 tiles transposed in
    /// registers for a channel-major target, 8×8 with AVX2 alone, 16 outputs at a time for a position-major one) as element by
    /// element: positions and outputs with and without a remainder past 16 (and 8), a range starting inside the map (as threads split it), with and
    /// without a zero-point correction.
    /// </summary>
    [Theory]
    [InlineData(64, 16, 0, 64, false, true)]
    [InlineData(100, 40, 3, 90, false, true)]
    [InlineData(49, 32, 17, 32, false, false)]
    [InlineData(100, 40, 3, 90, true, true)]
    [InlineData(20, 7, 0, 20, false, true)]
    [InlineData(37, 28, 5, 29, false, true)]
    public void VectorOutputsMatchScalarOutputs(int positions, int outputs, int first, int count, bool positionMajor, bool corrected)
    {
        var random = new Random(positions * 13 + outputs);
        int ldc = (outputs + 15) & ~15;
        var acc = Enumerable.Range(0, positions * ldc).Select(_ => random.Next(-30_000, 30_000)).ToArray();
        var correction = corrected ? Enumerable.Range(0, outputs).Select(_ => random.Next(-500, 500)).ToArray() : null;
        var mul = Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() * 1e-3)).ToArray();
        var add = Enumerable.Range(0, outputs).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        int ldy = positionMajor ? outputs : positions;
        var scalar = Enumerable.Repeat(float.NaN, positions * outputs).ToArray();
        var vector = Enumerable.Repeat(float.NaN, positions * outputs).ToArray();
        DenseProduct.WriteOutputs(acc, ldc, first, count, correction, mul, add, scalar, ldy, positionMajor, vectorized: false);
        DenseProduct.WriteOutputs(acc, ldc, first, count, correction, mul, add, vector, ldy, positionMajor);
        Assert.Equal(scalar.Select(BitConverter.SingleToInt32Bits), vector.Select(BitConverter.SingleToInt32Bits));
        // Exactly the positions of the range were written, each by the formula.
        Assert.Equal(count * outputs, scalar.Count(v => !float.IsNaN(v)));
        for (int p = first; p < first + count; p++)
            for (int o = 0; o < outputs; o++)
                Assert.Equal((acc[p * ldc + o] - (correction?[o] ?? 0)) * mul[o] + add[o], scalar[positionMajor ? p * ldy + o : o * ldy + p]);
    }
}
