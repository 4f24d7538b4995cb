using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Microsoft.ML.Quantization.Schemes;

namespace Microsoft.ML.Quantization.Runtime;

/// <summary>
/// The frozen grid of an activation quantizer at scoring: encodes floats to codes exactly as the training
/// forward does (count of thresholds ≤ x / s, then the code order), and gives each code's value as an
/// integer (<see cref="Integers"/> / <see cref="Multiplier"/> · <see cref="Scale"/>) when the levels allow it.
/// </summary>
internal sealed partial class ActivationCodec
{
    private readonly float[] thresholds;
    private readonly int[] order;
    private readonly float[] values;
    private readonly int[]? vectorTable; // integer level by threshold count, padded to 16, for the vector encoder
    private readonly Vector512<int> levelVector; // the same table in a register
    private readonly float[]? inputThresholds; // ≤ 16 levels: the least x with x / s ≥ t for each threshold t, so no division is needed
    private readonly float inverseInputStep; // > 0 where those lie within half a step of uniform: the scalar count is estimated, then corrected
    private readonly Vector512<float> scaleVector;
    // More than 16 levels on near-uniform thresholds (8-bit grids): the count is estimated from the first threshold and the
    // mean step, then corrected by one look up and one down (the estimate is off by at most one while every threshold lies
    // within half a step of the uniform one).
    private readonly float[]? boundedThresholds; // −∞, the thresholds, NaN: index count + 1 is the next threshold up
    private readonly int[]? countLevels; // integer level by threshold count
    private readonly float firstThreshold, inverseStep;
    // Where threshold k is exactly firstThreshold + k · thresholdStep in float and the levels by count are consecutive from
    // firstLevel, the vector encoders compute the thresholds either side of the estimate and the level rather than gather them.
    private readonly float thresholdStep;
    private readonly int firstLevel;

    /// <summary>Creates the codec from a per-tensor grid.</summary>
    public ActivationCodec(QuantizationGrid grid)
    {
        if (grid.GroupCount != 1) throw new InvalidDataException("An activation grid must be per tensor.");
        Scale = grid.Scales[0];
        Levels = grid.Levels;
        thresholds = grid.Thresholds;
        order = grid.CodeOrder ?? Enumerable.Range(0, grid.LevelCount).ToArray();
        values = Levels.Select(l => l * Scale).ToArray();
        scaleVector = Vector512.Create(Scale);
        if (IntegerLevels.TryCreate(Levels, out var integers, out int multiplier))
        {
            Integers = integers;
            Multiplier = multiplier;
            MinInteger = Math.Min(0, integers.Min());
            MaxInteger = Math.Max(0, integers.Max());
            if (order.Length <= 16)
            {
                vectorTable = new int[16];
                for (int p = 0; p < order.Length; p++) vectorTable[p] = integers[order[p]];
                levelVector = Vector512.Create(vectorTable);
                (lowLevels, highLevels) = (Vector256.Create<int>(vectorTable.AsSpan(0, 8)), Vector256.Create<int>(vectorTable.AsSpan(8, 8)));
                if (Scale > 0 && float.IsFinite(Scale) && thresholds.All(float.IsFinite)) inputThresholds = thresholds.Select(LeastInput).ToArray();
                if (inputThresholds is not null && NearlyUniform(inputThresholds, out float inputStep)) inverseInputStep = 1 / inputStep;
            }
            else if (NearlyUniform(thresholds, out float step))
            {
                firstThreshold = thresholds[0];
                inverseStep = 1 / step;
                boundedThresholds = thresholds.Prepend(float.NegativeInfinity).Append(float.NaN).ToArray();
                countLevels = order.Select(code => integers[code]).ToArray();
                if (Arithmetic(thresholds, step) && countLevels.Select((level, count) => level - count).Distinct().Count() == 1)
                {
                    thresholdStep = step;
                    firstLevel = countLevels[0];
                }
            }
        }
        if (inputThresholds is { Length: <= 3 } inputs)
        {
            if (IsVectorized) InRegisters = new FourLevels(inputs, levelVector);
            if (IsVectorized256) InRegisters256 = new FourLevels256(inputs, lowLevels);
        }
    }

    /// <summary>The scale s.</summary>
    public float Scale { get; }

    /// <summary>Levels by code, in units of s.</summary>
    public float[] Levels { get; }

    /// <summary>Integer value of each code, or null when the levels have no integer form.</summary>
    public int[]? Integers { get; }

    /// <summary>The power of two that turns levels into <see cref="Integers"/>.</summary>
    public int Multiplier { get; }

    /// <summary>Real value of one integer unit: s / m.</summary>
    public float Unit => Scale / Multiplier;

    /// <summary>Smallest integer value, 0 included (zero padding).</summary>
    public int MinInteger { get; }

    /// <summary>Largest integer value, 0 included.</summary>
    public int MaxInteger { get; }

    /// <summary>The code of one value.</summary>
    public int Encode(float x)
    {
        float y = x / Scale;
        int position = 0;
        // Thresholds ascend; a linear count is branch-predictable for the usual ≤ 15 thresholds.
        if (thresholds.Length <= 16)
        {
            foreach (float t in thresholds) position += t <= y ? 1 : 0;
        }
        else
        {
            int lo = 0, hi = thresholds.Length;
            while (lo < hi)
            {
                int mid = (lo + hi) >>> 1;
                if (thresholds[mid] <= y) lo = mid + 1;
                else hi = mid;
            }
            position = lo;
        }
        return order[position];
    }

    /// <summary>
    /// The integer level of one value (<see cref="Integers"/> of <see cref="Encode"/>): up to 16 levels by compares with the least
    /// inputs of each threshold, without the division (the vector encoder's count, one value at a time).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int EncodeInteger(float x)
    {
        var integers = Integers ?? throw new InvalidOperationException("The grid has no integer form.");
        if (countLevels is not null) return EstimatedLevel(x);
        if (inputThresholds is null) return integers[Encode(x)];
        if (inverseInputStep > 0) return vectorTable![EstimatedCount(inputThresholds, x)];
        int position = 0;
        foreach (float t in inputThresholds) position += x >= t ? 1 : 0;
        return vectorTable![position];
    }

    /// <summary>
    /// The level of x on a grid of over 16 levels with near-uniform thresholds, as the vector encoders count it: the estimate
    /// ⌊(x / s − first) / step⌋ + 1 in [0, n] (0 for NaN), one up where the next threshold is ≤ x / s, one down where the last
    /// one counted is above it. Without SIMD, <see cref="Encode"/>'s bisection over 255 thresholds mispredicted a branch at
    /// most steps: 22 ns a value of an 8-bit input quantizer.
    /// </summary>
    private int EstimatedLevel(float x)
    {
        float y = x / Scale, e = (y - firstThreshold) * inverseStep;
        int n = thresholds.Length, count = e >= 0 ? (e < n ? (int)e + 1 : n) : 0;
        var bounded = boundedThresholds!;
        count += bounded[count + 1] <= y ? 1 : 0;
        count -= bounded[count] > y ? 1 : 0;
        return countLevels![count];
    }

    /// <summary>
    /// <see cref="EncodeInteger"/> of each of <paramref name="x"/> into <paramref name="levels"/>: the scalar paths' encoder over
    /// a run, whose loop keeps the grid in registers (value by value through calls, a fused epilogue spent 8 ns a value).
    /// </summary>
    public void EncodeIntegerRun(ReadOnlySpan<float> x, Span<int> levels)
    {
        if (levels.Length < x.Length) throw new ArgumentException("Fewer levels than values.", nameof(levels));
        if (inverseInputStep > 0)
        {
            var inputs = inputThresholds!;
            var table = vectorTable!;
            for (int i = 0; i < x.Length; i++) levels[i] = table[EstimatedCount(inputs, x[i])];
        }
        else
        {
            for (int i = 0; i < x.Length; i++) levels[i] = EncodeInteger(x[i]);
        }
    }

    /// <summary>
    /// The integer level (<see cref="EncodeInteger"/>) of each of <paramref name="x"/> as a short, on the widest vector path
    /// there is unless <paramref name="vectorized"/> is false.
    /// </summary>
    public void EncodeShorts(ReadOnlySpan<float> x, Span<short> y, bool vectorized = true)
    {
        if (y.Length < x.Length) throw new ArgumentException("Fewer shorts than values.", nameof(y));
        int i = 0;
        if (vectorized && IsVectorized)
            for (; i + 16 <= x.Length; i += 16) Avx512F.ConvertToVector256Int16(EncodeIntegers(Vector512.Create(x.Slice(i, 16)))).CopyTo(y.Slice(i, 16));
        else if (vectorized && IsVectorized256)
        {
            for (; i + 8 <= x.Length; i += 8)
            {
                var levels = EncodeIntegers256(Vector256.Create(x.Slice(i, 8)));
                Vector128.Narrow(levels.GetLower(), levels.GetUpper()).CopyTo(y.Slice(i, 8));
            }
        }
        Span<int> run = stackalloc int[256];
        for (; i < x.Length; i += run.Length)
        {
            int n = Math.Min(run.Length, x.Length - i);
            EncodeIntegerRun(x.Slice(i, n), run);
            for (int j = 0; j < n; j++) y[i + j] = (short)run[j];
        }
    }

    /// <summary>
    /// The integer level plus <paramref name="offset"/> of each of <paramref name="x"/> as a byte (a pixel's channels of a
    /// <see cref="SlotLayout.ChannelsLast"/> map into a direct convolution's padded bytes), on the widest vector path there is
    /// unless <paramref name="vectorized"/> is false.
    /// </summary>
    public void EncodeBytes(ReadOnlySpan<float> x, Span<byte> y, int offset, bool vectorized = true)
    {
        if (y.Length < x.Length) throw new ArgumentException("Fewer bytes than values.", nameof(y));
        int i = 0;
        if (vectorized && IsVectorized)
            for (var bias = Vector512.Create(offset); i + 16 <= x.Length; i += 16)
                Avx512F.ConvertToVector128Byte(EncodeIntegers(Vector512.Create(x.Slice(i, 16))) + bias).CopyTo(y.Slice(i, 16));
        else if (vectorized && IsVectorized256)
        {
            for (var bias = Vector256.Create(offset); i + 8 <= x.Length; i += 8)
            {
                var levels = (EncodeIntegers256(Vector256.Create(x.Slice(i, 8))) + bias).AsUInt32();
                var shorts = Vector128.Narrow(levels.GetLower(), levels.GetUpper());
                System.Runtime.InteropServices.MemoryMarshal.Write(y.Slice(i, 8), Vector128.Narrow(shorts, shorts).AsUInt64().ToScalar()); // the low 8 bytes
            }
        }
        Span<int> run = stackalloc int[64]; // a run through EncodeIntegerRun, which keeps the grid in registers
        for (; i < x.Length; i += run.Length)
        {
            int n = Math.Min(run.Length, x.Length - i);
            EncodeIntegerRun(x.Slice(i, n), run);
            for (int j = 0; j < n; j++) y[i + j] = (byte)(run[j] + offset);
        }
    }

    /// <summary>
    /// The count of <paramref name="inputs"/> at or below x on a nearly uniform grid (at least 2): the estimate c from the first
    /// and the mean step is off by at most one while each input lies within half a step of uniform, so the count is c − 1 plus
    /// the compares with inputs c − 1 and c. Clamped so that both exist, it holds below the first input and above the last,
    /// and for NaN (which converts to 0 and passes no compare). Free of branches: on the scalar paths the values behind a
    /// ReLU fall either side of the first input at random, and a mispredicted branch cost more than the compares.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int EstimatedCount(float[] inputs, float x)
    {
        int estimate = (int)((x - inputs[0]) * inverseInputStep), last = inputs.Length - 2; // (int) saturates
        estimate &= ~(estimate >> 31); // max(estimate, 0) and min(estimate, last) by masks, which the JIT left as branches
        int over = estimate - last;
        int c = last + (over & (over >> 31)) + 1;
        return c - 1 + (x >= inputs[c - 1] ? 1 : 0) + (x >= inputs[c] ? 1 : 0);
    }

    /// <summary>
    /// Writes channel-major planes as bytes of a channels-last layout: (integer level + <paramref name="offset"/>) of value
    /// c·P + p (P = <paramref name="pixels"/>.Length) as dest[pixels[p] + c]. Equal to <see cref="Encode"/> element by
    /// element; where <see cref="IsVectorized"/> or <see cref="IsVectorized256"/> (and <paramref name="vectorized"/>), tiles of 16 channels × 16 pixels: each
    /// channel's 16 values through the vector encoder, then the 16×16 byte tile transposed in registers and stored one
    /// pixel's 16 channels at a time (element-wise stores cost 1.5 ns a value; gathers down planes 4 KB apart, more).
    /// </summary>
    public void EncodePlanes(ReadOnlySpan<float> values, int channels, Span<byte> dest, ReadOnlySpan<int> pixels, int offset, bool vectorized = true) =>
        EncodePlanes(values, channels, dest, pixels, offset, 0, pixels.Length, vectorized);

    /// <summary>
    /// <see cref="EncodePlanes(ReadOnlySpan{float}, int, Span{byte}, ReadOnlySpan{int}, int, bool)"/> for pixels
    /// [<paramref name="first"/>, <paramref name="end"/>) only, <paramref name="first"/> a multiple of 16: threads share a map by whole tiles.
    /// </summary>
    public unsafe void EncodePlanes(ReadOnlySpan<float> values, int channels, Span<byte> dest, ReadOnlySpan<int> pixels, int offset, int first, int end, bool vectorized = true)
    {
        var integers = Integers ?? throw new InvalidOperationException("The grid has no integer form.");
        int plane = pixels.Length, tiledChannels = 0, tiledPixels = first;
        if (values.Length != channels * plane) throw new ArgumentException("The values are not whole planes of every channel.", nameof(values));
        if (first % 16 != 0 || first < 0 || end < first || end > plane) throw new ArgumentOutOfRangeException(nameof(first), "The pixels must be a range of the plane starting on a tile.");
        if (vectorized && (IsVectorized || IsVectorized256))
        {
            foreach (int pixel in pixels[first..end])
                if ((uint)pixel > (uint)(dest.Length - channels)) throw new ArgumentOutOfRangeException(nameof(pixels));
            tiledChannels = channels & ~15;
            tiledPixels = first + ((end - first) & ~15);
            bool wide = IsVectorized; // else the AVX2 encoder, two 8-value halves per row
            var bias = Vector512.Create(offset);
            var bias256 = Vector256.Create(offset);
            var rows = stackalloc Vector128<byte>[16];
            fixed (float* x = values)
            fixed (byte* y = dest)
            fixed (int* target = pixels)
            {
                for (int c0 = 0; c0 < tiledChannels; c0 += 16)
                {
                    for (int p0 = first; p0 < tiledPixels; p0 += 16)
                    {
                        for (int r = 0; r < 16; r++)
                        {
                            float* row = x + (c0 + r) * plane + p0;
                            rows[r] = wide ? Avx512F.ConvertToVector128Byte(EncodeIntegers(Vector512.Load(row)) + bias) : EncodeBytes256(row, bias256);
                        }
                        TransposeBytes(rows);
                        for (int j = 0; j < 16; j++) rows[j].Store(y + target[p0 + j] + c0);
                    }
                }
            }
        }
        // Channels and pixels outside whole tiles (all of a 3-channel image's) run by channel, on the vector encoder where allowed:
        // an 8-bit 3×224×224 input took 7.5 ms through the scalar one, 0.24 ms through this (2026-12-07).
        Span<short> levels = stackalloc short[256];
        for (int c = 0; c < channels; c++)
            for (int p0 = c < tiledChannels ? tiledPixels : first; p0 < end; p0 += levels.Length)
            {
                int n = Math.Min(levels.Length, end - p0);
                EncodeShorts(values.Slice(c * plane + p0, n), levels, vectorized);
                for (int j = 0; j < n; j++) dest[pixels[p0 + j] + c] = (byte)(levels[j] + offset);
            }
    }

    /// <summary>
    /// Transposes a 16×16 byte tile in place (row r, column j ↦ row j, column r): interleaves of 8-, 16-, 32- and 64-bit lanes,
    /// in locals, which stay in registers (through a stack array, each of the 64 interleaves loaded two rows and stored one:
    /// 0.41 ns a value encoded on AVX-512).
    /// </summary>
    private static unsafe void TransposeBytes(Vector128<byte>* rows)
    {
        // Rows 2i, 2i+1 interleaved by bytes: t[i] holds their columns 0–7, t[8 + i] columns 8–15.
        var t0 = Sse2.UnpackLow(rows[0], rows[1]); var t8 = Sse2.UnpackHigh(rows[0], rows[1]);
        var t1 = Sse2.UnpackLow(rows[2], rows[3]); var t9 = Sse2.UnpackHigh(rows[2], rows[3]);
        var t2 = Sse2.UnpackLow(rows[4], rows[5]); var t10 = Sse2.UnpackHigh(rows[4], rows[5]);
        var t3 = Sse2.UnpackLow(rows[6], rows[7]); var t11 = Sse2.UnpackHigh(rows[6], rows[7]);
        var t4 = Sse2.UnpackLow(rows[8], rows[9]); var t12 = Sse2.UnpackHigh(rows[8], rows[9]);
        var t5 = Sse2.UnpackLow(rows[10], rows[11]); var t13 = Sse2.UnpackHigh(rows[10], rows[11]);
        var t6 = Sse2.UnpackLow(rows[12], rows[13]); var t14 = Sse2.UnpackHigh(rows[12], rows[13]);
        var t7 = Sse2.UnpackLow(rows[14], rows[15]); var t15 = Sse2.UnpackHigh(rows[14], rows[15]);
        // By 16 bits: u[4q + 2h] and u[4q + 2h + 1] hold rows 4q–4q+3, columns 8h–8h+3 and 8h+4–8h+7.
        var u0 = Sse2.UnpackLow(t0.AsUInt16(), t1.AsUInt16()); var u1 = Sse2.UnpackHigh(t0.AsUInt16(), t1.AsUInt16());
        var u2 = Sse2.UnpackLow(t8.AsUInt16(), t9.AsUInt16()); var u3 = Sse2.UnpackHigh(t8.AsUInt16(), t9.AsUInt16());
        var u4 = Sse2.UnpackLow(t2.AsUInt16(), t3.AsUInt16()); var u5 = Sse2.UnpackHigh(t2.AsUInt16(), t3.AsUInt16());
        var u6 = Sse2.UnpackLow(t10.AsUInt16(), t11.AsUInt16()); var u7 = Sse2.UnpackHigh(t10.AsUInt16(), t11.AsUInt16());
        var u8 = Sse2.UnpackLow(t4.AsUInt16(), t5.AsUInt16()); var u9 = Sse2.UnpackHigh(t4.AsUInt16(), t5.AsUInt16());
        var u10 = Sse2.UnpackLow(t12.AsUInt16(), t13.AsUInt16()); var u11 = Sse2.UnpackHigh(t12.AsUInt16(), t13.AsUInt16());
        var u12 = Sse2.UnpackLow(t6.AsUInt16(), t7.AsUInt16()); var u13 = Sse2.UnpackHigh(t6.AsUInt16(), t7.AsUInt16());
        var u14 = Sse2.UnpackLow(t14.AsUInt16(), t15.AsUInt16()); var u15 = Sse2.UnpackHigh(t14.AsUInt16(), t15.AsUInt16());
        // By 32 bits: v[8o + 2k] and v[8o + 2k + 1] hold rows 8o–8o+7, columns 4k, 4k+1 and 4k+2, 4k+3.
        var v0 = Sse2.UnpackLow(u0.AsUInt32(), u4.AsUInt32()); var v1 = Sse2.UnpackHigh(u0.AsUInt32(), u4.AsUInt32());
        var v2 = Sse2.UnpackLow(u1.AsUInt32(), u5.AsUInt32()); var v3 = Sse2.UnpackHigh(u1.AsUInt32(), u5.AsUInt32());
        var v4 = Sse2.UnpackLow(u2.AsUInt32(), u6.AsUInt32()); var v5 = Sse2.UnpackHigh(u2.AsUInt32(), u6.AsUInt32());
        var v6 = Sse2.UnpackLow(u3.AsUInt32(), u7.AsUInt32()); var v7 = Sse2.UnpackHigh(u3.AsUInt32(), u7.AsUInt32());
        var v8 = Sse2.UnpackLow(u8.AsUInt32(), u12.AsUInt32()); var v9 = Sse2.UnpackHigh(u8.AsUInt32(), u12.AsUInt32());
        var v10 = Sse2.UnpackLow(u9.AsUInt32(), u13.AsUInt32()); var v11 = Sse2.UnpackHigh(u9.AsUInt32(), u13.AsUInt32());
        var v12 = Sse2.UnpackLow(u10.AsUInt32(), u14.AsUInt32()); var v13 = Sse2.UnpackHigh(u10.AsUInt32(), u14.AsUInt32());
        var v14 = Sse2.UnpackLow(u11.AsUInt32(), u15.AsUInt32()); var v15 = Sse2.UnpackHigh(u11.AsUInt32(), u15.AsUInt32());
        // By 64 bits: columns 2m and 2m + 1 of all 16 rows.
        rows[0] = Sse2.UnpackLow(v0.AsUInt64(), v8.AsUInt64()).AsByte(); rows[1] = Sse2.UnpackHigh(v0.AsUInt64(), v8.AsUInt64()).AsByte();
        rows[2] = Sse2.UnpackLow(v1.AsUInt64(), v9.AsUInt64()).AsByte(); rows[3] = Sse2.UnpackHigh(v1.AsUInt64(), v9.AsUInt64()).AsByte();
        rows[4] = Sse2.UnpackLow(v2.AsUInt64(), v10.AsUInt64()).AsByte(); rows[5] = Sse2.UnpackHigh(v2.AsUInt64(), v10.AsUInt64()).AsByte();
        rows[6] = Sse2.UnpackLow(v3.AsUInt64(), v11.AsUInt64()).AsByte(); rows[7] = Sse2.UnpackHigh(v3.AsUInt64(), v11.AsUInt64()).AsByte();
        rows[8] = Sse2.UnpackLow(v4.AsUInt64(), v12.AsUInt64()).AsByte(); rows[9] = Sse2.UnpackHigh(v4.AsUInt64(), v12.AsUInt64()).AsByte();
        rows[10] = Sse2.UnpackLow(v5.AsUInt64(), v13.AsUInt64()).AsByte(); rows[11] = Sse2.UnpackHigh(v5.AsUInt64(), v13.AsUInt64()).AsByte();
        rows[12] = Sse2.UnpackLow(v6.AsUInt64(), v14.AsUInt64()).AsByte(); rows[13] = Sse2.UnpackHigh(v6.AsUInt64(), v14.AsUInt64()).AsByte();
        rows[14] = Sse2.UnpackLow(v7.AsUInt64(), v15.AsUInt64()).AsByte(); rows[15] = Sse2.UnpackHigh(v7.AsUInt64(), v15.AsUInt64()).AsByte();
    }

    /// <summary>
    /// The least input of each threshold, ascending, where the grid has them (an integer form of at most 16 levels and a
    /// positive scale), else null: <see cref="EncodeInteger"/>(x) is <see cref="LevelOfCount"/> of how many of them x reaches.
    /// </summary>
    public float[]? InputThresholds => inputThresholds;

    /// <summary>The integer level of a value that reaches <paramref name="count"/> of <see cref="InputThresholds"/>.</summary>
    public int LevelOfCount(int count) => vectorTable![count];

    /// <summary>Whether <see cref="EncodeIntegers"/> runs here: AVX-512 and an integer form of at most 16 levels.</summary>
    public bool IsVectorized => Avx512F.IsSupported && (vectorTable is not null || (countLevels is not null && Avx2.IsSupported));

    /// <summary>
    /// The least float x with x / s ≥ <paramref name="threshold"/> in float arithmetic. Division by s &gt; 0 is monotone, so
    /// x ≥ that bound exactly when x / s ≥ the threshold: the vector encoder compares inputs with it and skips the division.
    /// </summary>
    private float LeastInput(float threshold)
    {
        float x = threshold * Scale;
        while (x / Scale >= threshold) x = MathF.BitDecrement(x);
        while (x / Scale < threshold) x = MathF.BitIncrement(x);
        return x;
    }

    /// <summary>
    /// Whether the vector encoders count without gathers: over 16 levels, each threshold exactly first + k · step as float
    /// arithmetic gives it, and consecutive integer levels (an 8-bit input quantizer on [0, 1]: 1.9 ns a value with gathers
    /// on AVX-512, 2.5 on AVX2).
    /// </summary>
    public bool CountsByArithmetic => thresholdStep > 0;

    /// <summary>Whether threshold k equals thresholds[0] + k · <paramref name="step"/> in float, each operation rounded as the vector encoders round it.</summary>
    private static bool Arithmetic(float[] thresholds, float step)
    {
        for (int k = 0; k < thresholds.Length; k++)
            if (thresholds[k] != thresholds[0] + k * step) return false;
        return true;
    }

    /// <summary>Whether every threshold lies within half the mean step of the uniform grid through the first and last.</summary>
    private static bool NearlyUniform(float[] thresholds, out float step)
    {
        int n = thresholds.Length;
        step = n > 1 ? (thresholds[n - 1] - thresholds[0]) / (n - 1) : 0;
        if (!(step > 0) || !float.IsFinite(step)) return false;
        for (int k = 0; k < n; k++)
            if (!(Math.Abs(thresholds[k] - (thresholds[0] + k * step)) <= step / 2)) return false;
        return true;
    }

    /// <summary>
    /// <see cref="EncodeIntegers"/> with the grid in registers, for a loop over many vectors: a grid of at most 4 levels compared
    /// on inputs (<see cref="IsVectorized"/> only); null for any other. In the epilogue's pixel loop the threshold array and the
    /// call path for wide grids kept that loop's vectors on the stack (2026-12-07).
    /// </summary>
    public FourLevels? InRegisters { get; }

    /// <summary>
    /// The integer levels of 16 values (<see cref="IsVectorized"/> only): the same division and threshold compares as
    /// <see cref="Encode"/>, one compare per threshold, then the level table through a permute.
    /// </summary>
    /// <remarks>Over 16 levels (near-uniform 8-bit grids) the count is estimated and corrected by gathers, giving <see cref="Encode"/>'s count.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // a call would pass the vectors through memory
    public Vector512<int> EncodeIntegers(Vector512<float> x)
    {
        var position = Vector512<int>.Zero;
        if (inputThresholds is not null)
        {
            foreach (float t in inputThresholds) position -= Vector512.GreaterThanOrEqual(x, Vector512.Create(t)).AsInt32();
            return Avx512F.PermuteVar16x32(levelVector, position);
        }
        var y = x / scaleVector;
        if (vectorTable is null) return CountedIntegers(y);
        foreach (float t in thresholds) position -= Vector512.GreaterThanOrEqual(y, Vector512.Create(t)).AsInt32();
        return Avx512F.PermuteVar16x32(levelVector, position);
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // keeps the ≤ 16-level path small where it is inlined
    private unsafe Vector512<int> CountedIntegers(Vector512<float> y)
    {
        // vmaxps returns its second operand for NaN, so NaN estimates become 0; ±∞ clamp to 0 and the threshold count.
        var estimate = Vector512.Floor((y - Vector512.Create(firstThreshold)) * Vector512.Create(inverseStep)) + Vector512<float>.One;
        estimate = Avx512F.Min(Avx512F.Max(estimate, Vector512<float>.Zero), Vector512.Create((float)thresholds.Length));
        var count = Avx512F.ConvertToVector512Int32WithTruncation(estimate);
        if (CountsByArithmetic) return Vector512.Create(ComputedLevel(count.GetLower(), y.GetLower()), ComputedLevel(count.GetUpper(), y.GetUpper()));
        fixed (float* t = boundedThresholds)
        fixed (int* levels = countLevels)
        {
            return Vector512.Create(Level(t, levels, count.GetLower(), y.GetLower()), Level(t, levels, count.GetUpper(), y.GetUpper()));
        }
    }

    /// <summary>
    /// <see cref="Level"/> where <see cref="CountsByArithmetic"/>: the next threshold up is k = count (none at count = n), the
    /// last one counted k = count − 1 (none at 0), each computed as first + k · step, and the level is the first plus the count.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vector256<int> ComputedLevel(Vector256<int> count, Vector256<float> y)
    {
        var first = Vector256.Create(firstThreshold);
        var step = Vector256.Create(thresholdStep);
        var next = first + Vector256.ConvertToSingle(count) * step;
        count -= Vector256.LessThanOrEqual(next, y).AsInt32() & Vector256.LessThan(count, Vector256.Create(thresholds.Length));
        var last = first + Vector256.ConvertToSingle(count - Vector256<int>.One) * step;
        count += Vector256.GreaterThan(last, y).AsInt32() & Vector256.GreaterThan(count, Vector256<int>.Zero);
        return count + Vector256.Create(firstLevel);
    }

    /// <summary>The estimated count one up where the next threshold is ≤ y, one down where the last one counted is > y; then its level.</summary>
    private static unsafe Vector256<int> Level(float* t, int* levels, Vector256<int> count, Vector256<float> y)
    {
        count -= Vector256.LessThanOrEqual(Avx2.GatherVector256(t, count + Vector256<int>.One, 4), y).AsInt32();
        count += Vector256.GreaterThan(Avx2.GatherVector256(t, count, 4), y).AsInt32();
        return Avx2.GatherVector256(levels, count, 4);
    }

    /// <summary>The float value of a code, as the training forward computes it (level · s in float32).</summary>
    public float Value(int code) => values[code];
}

/// <summary>Encodes 16 floats into their integer levels (<see cref="ActivationCodec.EncodeIntegers"/>): the codec's, or its grid in registers.</summary>
internal interface IVectorEncoder
{
    /// <summary>The integer levels of <paramref name="x"/>.</summary>
    Vector512<int> Encode(Vector512<float> x);
}

/// <summary>The codec's own <see cref="ActivationCodec.EncodeIntegers"/>.</summary>
internal readonly struct CodecEncoder(ActivationCodec codec) : IVectorEncoder
{
    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<int> Encode(Vector512<float> x) => codec.EncodeIntegers(x);
}

/// <summary>
/// A grid of at most 4 levels in registers (<see cref="ActivationCodec.InRegisters"/>): the same input compares as
/// <see cref="ActivationCodec.EncodeIntegers"/>, thresholds it lacks NaN (no value compares at least NaN, as no value passes a threshold it lacks).
/// </summary>
internal readonly struct FourLevels : IVectorEncoder
{
    private readonly Vector512<float> first, second, third;
    private readonly Vector512<int> levels;

    /// <summary>The grid of input thresholds <paramref name="inputs"/> (at most 3) and its level table.</summary>
    public FourLevels(float[] inputs, Vector512<int> levels)
    {
        if (inputs.Length > 3) throw new ArgumentException("At most 3 thresholds fit.", nameof(inputs));
        Vector512<float> At(int k) => Vector512.Create(k < inputs.Length ? inputs[k] : float.NaN);
        (first, second, third, this.levels) = (At(0), At(1), At(2), levels);
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vector512<int> Encode(Vector512<float> x)
    {
        var passed = Vector512.GreaterThanOrEqual(x, first).AsInt32() + Vector512.GreaterThanOrEqual(x, second).AsInt32() + Vector512.GreaterThanOrEqual(x, third).AsInt32();
        return Avx512F.PermuteVar16x32(levels, -passed); // each passed threshold is −1
    }
}
