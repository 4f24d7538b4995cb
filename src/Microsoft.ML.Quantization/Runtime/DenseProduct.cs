using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Microsoft.ML.Quantization.Kernels;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Serialization;

namespace Microsoft.ML.Quantization.Runtime;

/// <summary>How a <see cref="DenseProduct"/> wants its input rows.</summary>
internal enum ProductInput
{
    /// <summary>Unsigned bytes: integer activation + <see cref="DenseProduct.Offset"/>, zero beyond the depth.</summary>
    Bytes,
    /// <summary>16-bit integer activations.</summary>
    Shorts,
    /// <summary>Float activations.</summary>
    Floats,
}

/// <summary>
/// The product of a weight matrix W [O,K] with input rows, followed by the per-output affine epilogue
/// y[o] = acc[o] · mul[o] + add[o] (quantizer scales, bias and a folded BatchNorm). Integer weights and
/// integer activations run through <see cref="Int8Gemm"/> (exact while the pair sums fit 16 bits) or
/// <see cref="Int16Gemm"/>; ResQ weights as one binary product per bit plane, combined with the plane
/// weights α_i/α_1; anything else in float through <see cref="FloatGemm"/>.
/// </summary>
internal sealed class DenseProduct
{
    private readonly Int8Weights[]? int8;
    private readonly LookupWeights? lookup; // the same codes for one row at a time (LSTM steps, linear layers at batch 1)
    private readonly int maxActivation;
    private readonly float[][]? planeWeights; // ResQ: per plane, per output
    private readonly Int16Weights? int16;
    private readonly FloatWeights? floats;
    private readonly float[] mul, add;
    private readonly int[]? correction;
    private readonly int[]? centres; // per output: subtracted from its weights to fit a signed byte, added back by AddCentres

    private DenseProduct(int outputs, int depth, ProductInput input, int offset, Int8Weights[]? int8, float[][]? planeWeights,
        Int16Weights? int16, FloatWeights? floats, float[] mul, float[] add, LookupWeights? lookup = null, int maxActivation = 255, int[]? centres = null)
    {
        this.centres = centres;
        this.lookup = lookup;
        this.maxActivation = maxActivation;
        Outputs = outputs;
        Depth = depth;
        Input = input;
        Offset = offset;
        this.int8 = int8;
        this.planeWeights = planeWeights;
        this.int16 = int16;
        this.floats = floats;
        this.mul = mul;
        this.add = add;
        if (int8 is not null && planeWeights is null && offset != 0) correction = int8[0].RowSums.Select((s, o) => (s + (centres?[o] ?? 0) * depth) * offset).ToArray();
        PaddedDepth = Math.Max(int8?[0].PaddedDepth ?? int16?.PaddedDepth ?? depth, lookup?.PaddedDepth ?? 0);
        PaddedOutputs = int8?[0].PaddedOutputs ?? int16?.PaddedOutputs ?? floats!.PaddedOutputs;
    }

    public int Outputs { get; }
    public int Depth { get; }

    /// <summary>Row length the input must have (zero beyond <see cref="Depth"/>).</summary>
    public int PaddedDepth { get; }

    /// <summary>Stride of the accumulator rows.</summary>
    public int PaddedOutputs { get; }

    /// <summary>The input form.</summary>
    public ProductInput Input { get; }

    /// <summary>Added to integer activations to make them unsigned (<see cref="ProductInput.Bytes"/>).</summary>
    public int Offset { get; }

    /// <summary>The shortest row for which 1-bit codes use the lookup-table GEMV at batch 1.</summary>
    public const int LookupMinimumDepth = 256;

    /// <summary>Which kernel runs: for reports and benchmarks.</summary>
    public string Kernel => planeWeights is not null ? $"binary planes x{int8!.Length}"
        : int8 is not null ? $"int8 ({int8[0].SlotBits}-bit slots)" + (lookup is not null ? ", lookup GEMV for one row" : "") + (centres is not null ? ", centred rows" : "")
        : int16 is not null ? "int16" : "float";

    /// <summary>
    /// Builds the product for weight <paramref name="weight"/> viewed as [O, K], the activation codec of its
    /// input (null for float input), and the epilogue's per-output scale and shift before the quantizer scales;
    /// <paramref name="convolution"/>: a convolution's, whose 16-bit rows its step reads in place.
    /// </summary>
    public static DenseProduct Create(ExportedTensor weight, ActivationCodec? activations, float[] scale, float[] shift, bool convolution = false)
    {
        int outputs = weight.Shape[0], depth = weight.Count / Math.Max(1, outputs);
        var q = weight.Quantized;
        float unitA = activations?.Unit ?? 1f;
        if (q is not null && activations?.Integers is not null)
        {
            int[] perOutputGroup = Enumerable.Range(0, outputs).Select(o => o * q.Grid.GroupCount / outputs).ToArray();
            var integerForm = IntegerForm(q);
            if (q.Scheme == QuantizationScheme.ResQ && integerForm is null)
                return ResQPlanes(q, activations, outputs, depth, perOutputGroup, scale, shift);
            if (integerForm is var (table, sharedTable, multiplier))
            {
                var mul = new float[outputs];
                for (int o = 0; o < outputs; o++) mul[o] = q.Grid.Scales[perOutputGroup[o]] / multiplier * unitA * scale[o];
                int offset = -activations.MinInteger, maxU = activations.MaxInteger + offset;
                int maxW = table.Max(Math.Abs);
                if (Int8Gemm.IsExact(maxU, table.Min(), table.Max()))
                {
                    var w8 = sharedTable is not null ? Int8Weights.FromCodes(q.Codes, sharedTable, outputs, depth) : Int8Weights.FromValues(Values(q, table), outputs, depth);
                    // 1-bit codes over a long row also get the lookup-table GEMV: for a single row it beat the int8 kernel
                    // 1.4-1.9x at 4096 deep (docs/benchmarks/kernels.md), while short rows (an LSTM step's 32) lost to its table building.
                    // Only on AVX-512: its portable loop ran 1.7 GOPS against the AVX2 int8 kernel's 97 (4096 deep, 2026-12-07).
                    var lookup = LookupGemv.IsAccelerated && sharedTable is { Length: <= 2 } && sharedTable.Min() > sbyte.MinValue && depth >= LookupMinimumDepth ? LookupWeights.FromCodes(q.Codes, sharedTable, outputs, depth) : null;
                    if (lookup is not null && !LookupGemv.IsExact(lookup, maxU)) lookup = null;
                    return new DenseProduct(outputs, depth, ProductInput.Bytes, offset, new[] { w8 }, null, null, null, mul, shift, lookup, maxU);
                }
                // ZoomQ-8's zero point per channel puts the levels of all rows together anywhere in [−255, 255], while each row
                // spans at most 256: rows moved into a signed byte around their centres, which AddCentres adds back, run on int8
                // where int16 runs on 256 bits (ResNet18's stem 2.50 -> 1.65 ms); against AVX-512's vpmaddwd they were even on
                // that stem and cost VggSmall W2A2 7 % at batch 64 (2026-12-07). A convolution of few outputs keeps int16, whose rows
                // are read in place where centred bytes are gathered: on AVX2 VggSmall's conv1 24 -> 12 us, ResNet20's conv0 26 -> 13,
                // while ResNet18's 64-output stem ran 1.5 ms centred against 2.5 in place.
                var values = Values(q, table);
                if (Int16Gemm.IsAvx2Accelerated && !(convolution && outputs <= MaxInPlaceOutputs) && Centres(values, outputs, depth) is { } centres
                    && Int8Gemm.IsExact(maxU, sbyte.MinValue, sbyte.MaxValue))
                {
                    for (int i = 0; i < values.Length; i++) values[i] -= centres[i / depth];
                    return new DenseProduct(outputs, depth, ProductInput.Bytes, offset, new[] { Int8Weights.FromValues(values, outputs, depth) }, null, null, null,
                        mul, shift, null, maxU, centres);
                }
                long maxA = Math.Max(-activations.MinInteger, activations.MaxInteger);
                if ((long)depth * maxA * maxW < int.MaxValue)
                    return new DenseProduct(outputs, depth, ProductInput.Shorts, 0, null, null, new Int16Weights(values, outputs, depth), null, mul, shift);
            }
        }
        // Float: decoded weights (level · scale, as the training forward computes them) times float activations.
        return new DenseProduct(outputs, depth, ProductInput.Floats, 0, null, null, null, new FloatWeights(weight.Decode(), outputs, depth), scale, shift);
    }

    /// <summary>The most outputs for which a convolution keeps int16 rows read in place over centred int8 rows on AVX2.</summary>
    private const int MaxInPlaceOutputs = 32;

    /// <summary>Whether the integer accumulators are the whole product before the epilogue, so that an <see cref="ActivationEpilogue"/> can take them (not ResQ planes, not float).</summary>
    public bool CanFuse => Input == ProductInput.Shorts || (Input == ProductInput.Bytes && planeWeights is null);

    /// <summary>The fused epilogue of this product's scales, bias and correction, for a convolution map <paramref name="width"/> wide (<see cref="CanFuse"/> only).</summary>
    public ActivationEpilogue Epilogue(FusedActivation fused, int width) => CanFuse
        ? new ActivationEpilogue(correction, mul, add, fused.Relu, fused.Pool, width, fused.Height, fused.Width, fused.Target, fused.Residual, fused.Floats)
        : throw new InvalidOperationException("Only integer products without bit planes fuse their epilogue.");

    /// <summary>Writes the integer accumulators acc[p·<see cref="PaddedOutputs"/> + o] of <paramref name="positions"/> rows (<see cref="CanFuse"/> only).</summary>
    public void Accumulate(ReadOnlySpan<byte> bytes, ReadOnlySpan<short> shorts, int ldx, int positions, Span<int> acc)
    {
        int ldc = PaddedOutputs;
        if (Input == ProductInput.Shorts) Int16Gemm.Multiply(int16!, shorts, ldx, positions, acc, ldc);
        else if (!CanFuse) throw new InvalidOperationException("Only integer products without bit planes have plain accumulators.");
        else if (positions == 1 && lookup is not null) LookupGemv.Multiply(lookup, bytes[..PaddedDepth], acc, maxActivation);
        else Int8Gemm.Multiply(int8![0], bytes, ldx, positions, acc, ldc, maxActivation);
        if (centres is not null) AddCentres(bytes, ldx, positions, acc, ldc);
    }

    /// <summary>
    /// This int16 product over a convolution's padded plane read in place: its weight columns moved to <paramref name="columns"/>
    /// of rows <paramref name="depth"/> long (<see cref="Steps.ConvolutionWindow.PairedColumns"/>), for <see cref="AccumulatePairs"/>.
    /// </summary>
    public DenseProduct OverPlane(ReadOnlySpan<int> columns, int depth) => Input == ProductInput.Shorts
        ? new DenseProduct(Outputs, Depth, ProductInput.Shorts, 0, null, null, int16!.WithColumnsAt(columns, depth), null, mul, add)
        : throw new InvalidOperationException("Only int16 products read a plane in place.");

    /// <summary>
    /// The accumulators of the positions at <paramref name="starts"/> in <paramref name="plane"/>, each row's depth pairs at
    /// <paramref name="pairOffsets"/> from its start (a product made <see cref="OverPlane"/>).
    /// </summary>
    public void AccumulatePairs(ReadOnlySpan<short> plane, ReadOnlySpan<int> pairOffsets, ReadOnlySpan<int> starts, Span<int> acc) =>
        Int16Gemm.Multiply(int16 ?? throw new InvalidOperationException("Only int16 products read a plane in place."), plane, pairOffsets, starts, acc, PaddedOutputs);

    /// <summary>
    /// Per output, the value subtracted from its row so that the row fits a signed byte (the one nearest 0), where some row
    /// needs one; null where none does or where a row spans more than 256 values.
    /// </summary>
    private static int[]? Centres(int[] values, int outputs, int depth)
    {
        var centres = new int[outputs];
        for (int o = 0; o < outputs; o++)
        {
            var row = values.AsSpan(o * depth, depth);
            int min = row.IsEmpty ? 0 : TensorPrimitives.Min<int>(row), max = row.IsEmpty ? 0 : TensorPrimitives.Max<int>(row);
            if (max - min > byte.MaxValue) return null;
            centres[o] = Math.Clamp(0, max - sbyte.MaxValue, min - sbyte.MinValue);
        }
        return centres.Any(c => c != 0) ? centres : null;
    }

    /// <summary>acc[p, o] += centres[o] · Σ_k x[p, k] over the real depth: the products of the centred rows made those of the rows themselves.</summary>
    private void AddCentres(ReadOnlySpan<byte> bytes, int ldx, int positions, Span<int> acc, int ldc)
    {
        var centre = centres!;
        for (int p = 0; p < positions; p++)
        {
            int sum = ByteSum(bytes.Slice(p * ldx, Depth));
            var row = acc.Slice(p * ldc, Outputs);
            int o = 0;
            for (; o + Vector256<int>.Count <= row.Length; o += Vector256<int>.Count)
                (Vector256.Create<int>(row[o..]) + Vector256.Create<int>(centre.AsSpan(o)) * sum).CopyTo(row[o..]);
            for (; o < row.Length; o++) row[o] += centre[o] * sum;
        }
    }

    /// <summary>Σ x: 32 bytes at a time widened into 16-bit lanes, which take 128 such additions (255 · 2 each) before they are widened again.</summary>
    private static int ByteSum(ReadOnlySpan<byte> x)
    {
        int sum = 0, k = 0;
        while (k + Vector256<byte>.Count <= x.Length)
        {
            var lanes = Vector256<ushort>.Zero;
            for (int n = 0; n < 128 && k + Vector256<byte>.Count <= x.Length; n++, k += Vector256<byte>.Count)
            {
                var (lower, upper) = Vector256.Widen(Vector256.Create(x[k..]));
                lanes += lower + upper;
            }
            var (low, high) = Vector256.Widen(lanes);
            sum += (int)Vector256.Sum(low + high);
        }
        for (; k < x.Length; k++) sum += x[k];
        return sum;
    }

    /// <summary>
    /// The float outputs of positions [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>) from the
    /// accumulators <see cref="Accumulate"/> wrote (row p at p·<see cref="PaddedOutputs"/>), as <see cref="Run"/> writes them (<see cref="CanFuse"/> only).
    /// </summary>
    public void Write(ReadOnlySpan<int> acc, int first, int count, Span<float> y, int ldy, bool positionMajor)
    {
        if (!CanFuse) throw new InvalidOperationException("Only integer products without bit planes have plain accumulators.");
        WriteOutputs(acc, PaddedOutputs, first, count, Input == ProductInput.Shorts ? null : correction, mul, add, y, ldy, positionMajor);
    }

    /// <summary>
    /// acc → y for <paramref name="positions"/> rows; writes y[o·ldy + p] (channel-major, as NCHW wants), or y[p·ldy + o] when
    /// <paramref name="positionMajor"/> (each position's outputs contiguous, as the LSTM's vector gates read them).
    /// </summary>
    public void Run(Workspace ws, ReadOnlySpan<byte> bytes, ReadOnlySpan<short> shorts, ReadOnlySpan<float> inputs, int ldx, int positions, Span<float> y, int ldy, bool positionMajor = false)
    {
        int ldc = PaddedOutputs;
        switch (Input)
        {
            case ProductInput.Shorts or ProductInput.Bytes when planeWeights is null:
            {
                var acc = ws.Ints(positions * ldc);
                Accumulate(bytes, shorts, ldx, positions, acc);
                Write(acc, 0, positions, y, ldy, positionMajor);
                break;
            }
            case ProductInput.Bytes:
            {
                // ResQ: Σ_i r_i · (binary plane i · a); the offset enters each plane through its row sums.
                var acc = ws.Ints(positions * ldc);
                var sum = ws.Floats2(positions * ldc);
                sum.Clear();
                for (int i = 0; i < int8!.Length; i++)
                {
                    Int8Gemm.Multiply(int8[i], bytes, ldx, positions, acc, ldc);
                    var r = planeWeights![i];
                    var rows = int8[i].RowSums;
                    for (int p = 0; p < positions; p++)
                        for (int o = 0; o < Outputs; o++)
                            sum[p * ldc + o] += r[o] * (acc[p * ldc + o] - rows[o] * Offset);
                }
                WriteOutputs(sum, ldc, positions, mul, add, y, ldy, positionMajor);
                break;
            }
            default:
            {
                var acc = ws.Floats2(positions * ldc);
                FloatGemm.Multiply(floats!, inputs, ldx, positions, acc, ldc);
                WriteOutputs(acc, ldc, positions, mul, add, y, ldy, positionMajor);
                break;
            }
        }
    }

    /// <summary>
    /// The epilogue of integer accumulators (rows of <paramref name="ldc"/>, one per position) for positions
    /// [first, first + count): y[o·ldy + p] = (acc − correction[o]) · mul[o] + add[o]. With AVX-512 (and
    /// <paramref name="vectorized"/>), 16 outputs at a time by the same operations; channel-major targets in tiles of 16
    /// positions × 16 outputs transposed in registers (one store per output and tile, where element-wise stores 4 KB apart
    /// took 2.6 ns a value), with AVX2 alone in tiles of 8 × 8.
    /// </summary>
    internal static void WriteOutputs(ReadOnlySpan<int> acc, int ldc, int first, int count, int[]? correction, float[] mul, float[] add, Span<float> y, int ldy, bool positionMajor = false, bool vectorized = true)
    {
        int tiledEnd = first, tiledOutputs = 0;
        if (!positionMajor && vectorized && Avx512F.IsSupported)
        {
            tiledEnd = first + (count & ~15);
            tiledOutputs = mul.Length & ~15;
            for (int p0 = first; p0 < tiledEnd; p0 += 16) WriteTiles(acc, ldc, p0, tiledOutputs, correction, mul, add, y, ldy);
        }
        else if (!positionMajor && vectorized && Avx2.IsSupported)
        {
            tiledEnd = first + (count & ~7);
            tiledOutputs = mul.Length & ~7;
            for (int p0 = first; p0 < tiledEnd; p0 += 8) WriteTiles256(acc, ldc, p0, tiledOutputs, correction, mul, add, y, ldy);
        }
        if (!positionMajor)
        {
            // The rest in blocks of 8 positions, so that each output's stores are contiguous (stores a plane apart, element by
            // element, made ResNet20 without SIMD 11× slower than with AVX2's tiles); tiledEnd − first is a multiple of 8.
            for (int p0 = first; p0 < first + count; p0 += 8)
            {
                int end = Math.Min(p0 + 8, first + count);
                for (int o = p0 < tiledEnd ? tiledOutputs : 0; o < mul.Length; o++)
                {
                    int c = correction?[o] ?? 0;
                    float m = mul[o], a = add[o];
                    for (int p = p0; p < end; p++) y[o * ldy + p] = (acc[p * ldc + o] - c) * m + a;
                }
            }
            return;
        }
        for (int p = first; p < first + count; p++)
        {
            int o = vectorized ? WritePosition(acc.Slice(p * ldc), correction, mul, add, y.Slice(p * ldy, mul.Length)) : 0;
            for (; o < mul.Length; o++) y[p * ldy + o] = (acc[p * ldc + o] - (correction?[o] ?? 0)) * mul[o] + add[o];
        }
    }

    /// <summary>
    /// One position's contiguous outputs by the same operations, 16 at a time on 512-bit vectors and 8 on 256-bit ones (AVX2:
    /// TextLstm's scalar loop took a fifth of its forward there), through pointers (an LSTM step writes 512 of them per
    /// sequence, where span slices cost more than the arithmetic); returns the outputs done, a multiple of 8, or 0 without vectors.
    /// </summary>
    private static unsafe int WritePosition(ReadOnlySpan<int> acc, int[]? correction, float[] mul, float[] add, Span<float> y)
    {
        int wide = Vector512.IsHardwareAccelerated ? y.Length & ~15 : 0, n = Vector256.IsHardwareAccelerated ? y.Length & ~7 : wide;
        if (acc.Length < n) throw new ArgumentException("The accumulator row is too short.", nameof(acc));
        fixed (int* a = acc)
        fixed (int* subtract = correction)
        fixed (float* m = mul, shift = add, target = y)
        {
            for (int o = 0; o < wide; o += 16)
            {
                var sums = Vector512.Load(a + o);
                if (subtract is not null) sums -= Vector512.Load(subtract + o);
                (Vector512.ConvertToSingle(sums) * Vector512.Load(m + o) + Vector512.Load(shift + o)).Store(target + o);
            }
            for (int o = wide; o < n; o += 8)
            {
                var sums = Vector256.Load(a + o);
                if (subtract is not null) sums -= Vector256.Load(subtract + o);
                (Vector256.ConvertToSingle(sums) * Vector256.Load(m + o) + Vector256.Load(shift + o)).Store(target + o);
            }
        }
        return n;
    }

    /// <summary>Positions [p0, p0 + 16) of the first <paramref name="outputs"/> (a multiple of 16) outputs, into a channel-major target.</summary>
    private static unsafe void WriteTiles(ReadOnlySpan<int> acc, int ldc, int p0, int outputs, int[]? correction, float[] mul, float[] add, Span<float> y, int ldy)
    {
        if (acc.Length < (p0 + 15) * ldc + outputs || y.Length < (outputs - 1) * ldy + p0 + 16) throw new ArgumentException("The tile lies outside the accumulators or the target.");
        var rows = stackalloc Vector512<float>[16];
        fixed (int* sums = acc)
        fixed (float* target = y)
        {
            for (int o0 = 0; o0 < outputs; o0 += 16)
            {
                var subtract = correction is null ? Vector512<int>.Zero : Vector512.Create<int>(correction.AsSpan(o0, 16));
                var scale = Vector512.Create<float>(mul.AsSpan(o0, 16));
                var shift = Vector512.Create<float>(add.AsSpan(o0, 16));
                int* row = sums + (long)p0 * ldc + o0;
                for (int k = 0; k < 16; k++, row += ldc) rows[k] = Avx512F.ConvertToVector512Single(Vector512.Load(row) - subtract) * scale + shift;
                FloatTranspose.Transpose16(rows);
                float* column = target + (long)o0 * ldy + p0;
                for (int j = 0; j < 16; j++, column += ldy) rows[j].Store(column);
            }
        }
    }

    /// <summary>Positions [p0, p0 + 8) of the first <paramref name="outputs"/> (a multiple of 8) outputs, into a channel-major target: AVX2's tiles.</summary>
    private static unsafe void WriteTiles256(ReadOnlySpan<int> acc, int ldc, int p0, int outputs, int[]? correction, float[] mul, float[] add, Span<float> y, int ldy)
    {
        if (acc.Length < (p0 + 7) * ldc + outputs || y.Length < (outputs - 1) * ldy + p0 + 8) throw new ArgumentException("The tile lies outside the accumulators or the target.");
        var rows = stackalloc Vector256<float>[8];
        fixed (int* sums = acc)
        fixed (float* target = y)
        {
            for (int o0 = 0; o0 < outputs; o0 += 8)
            {
                var subtract = correction is null ? Vector256<int>.Zero : Vector256.Create<int>(correction.AsSpan(o0, 8));
                var scale = Vector256.Create<float>(mul.AsSpan(o0, 8));
                var shift = Vector256.Create<float>(add.AsSpan(o0, 8));
                int* row = sums + (long)p0 * ldc + o0;
                for (int k = 0; k < 8; k++, row += ldc) rows[k] = Vector256.ConvertToSingle(Vector256.Load(row) - subtract) * scale + shift;
                FloatTranspose.Transpose8(rows);
                float* column = target + (long)o0 * ldy + p0;
                for (int j = 0; j < 8; j++, column += ldy) rows[j].Store(column);
            }
        }
    }

    /// <summary>The epilogue of float accumulators: y[o·ldy + p] = acc · mul[o] + add[o].</summary>
    private static void WriteOutputs(ReadOnlySpan<float> acc, int ldc, int positions, float[] mul, float[] add, Span<float> y, int ldy, bool positionMajor)
    {
        int outputStride = positionMajor ? 1 : ldy, positionStride = positionMajor ? ldy : 1;
        for (int p = 0; p < positions; p++)
            for (int o = 0; o < mul.Length; o++)
                y[o * outputStride + p * positionStride] = acc[p * ldc + o] * mul[o] + add[o];
    }

    /// <summary>Bytes the weights occupy in memory (for reports).</summary>
    public long WeightBytes => (int8?.Sum(w => (long)w.Data.Length) ?? (int16 is not null ? int16.Data.Length * 2L : floats!.Data.Length * 4L)) + (lookup?.Data.Length ?? 0);

    /// <summary>Integer values of every code per group, the table when all groups share it, and the multiplier; null if none.</summary>
    internal static (int[] AllValues, int[]? Shared, int Multiplier)? IntegerForm(QuantizedTensor q)
    {
        if (!IntegerLevels.TryCreate(q.Grid.Levels, out var integers, out int multiplier)) return null;
        int levels = q.Grid.LevelCount;
        bool shared = true;
        for (int g = 1; g < q.Grid.GroupCount && shared; g++)
            shared = integers.AsSpan(g * levels, levels).SequenceEqual(integers.AsSpan(0, levels));
        return (integers, shared ? integers[..levels] : null, multiplier);
    }

    /// <summary>The integer value of every element.</summary>
    private static int[] Values(QuantizedTensor q, int[] table)
    {
        int levels = q.Grid.LevelCount, perGroup = q.Codes.Length / q.Grid.GroupCount;
        var values = new int[q.Codes.Length];
        for (int i = 0; i < values.Length; i++) values[i] = table[(i / perGroup) * levels + q.Codes[i]];
        return values;
    }

    /// <summary>
    /// ResQ codes are bit patterns: bit (b−1−i) set means +α_i. Each plane is a ±1 matrix; its weight per
    /// group is r_i = (level with bit set − level with it clear) / 2, read off the stored levels.
    /// </summary>
    private static DenseProduct ResQPlanes(QuantizedTensor q, ActivationCodec activations, int outputs, int depth, int[] group, float[] scale, float[] shift)
    {
        int bits = q.Grid.Bits, levels = q.Grid.LevelCount;
        var planes = new Int8Weights[bits];
        var weights = new float[bits][];
        int offset = -activations.MinInteger;
        if (!Int8Gemm.IsExact(activations.MaxInteger + offset, -1, 1)) throw new NotSupportedException("ResQ weights need activations of at most 8 bits.");
        for (int i = 0; i < bits; i++)
        {
            int bit = 1 << (bits - 1 - i);
            planes[i] = Int8Weights.FromCodes(q.Codes.Select(c => (byte)((c & bit) != 0 ? 1 : 0)).ToArray(), new[] { -1, 1 }, outputs, depth);
            weights[i] = new float[outputs];
            for (int o = 0; o < outputs; o++) weights[i][o] = (q.Grid.Levels[group[o] * levels + bit] - q.Grid.Levels[group[o] * levels]) / 2;
        }
        var mul = new float[outputs];
        for (int o = 0; o < outputs; o++) mul[o] = q.Grid.Scales[group[o]] * activations.Unit * scale[o];
        return new DenseProduct(outputs, depth, ProductInput.Bytes, offset, planes, weights, null, null, mul, shift);
    }
}
