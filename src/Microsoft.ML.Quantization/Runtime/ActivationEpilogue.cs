using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Runtime;

/// <summary>
/// The nodes a convolution's epilogue absorbs: a residual add of the float map <paramref name="Residual"/> or not, a ReLU or not,
/// a max pool of kernel and stride <paramref name="Pool"/> (1: none), a Flatten or not, and the quantizer whose slot it writes;
/// <paramref name="Height"/> × <paramref name="Width"/> is the map the quantizer sees (after the pool, before any Flatten).
/// Where that map has other consumers than the quantizer (a residual block's output feeds the next add as well),
/// <paramref name="Floats"/> is its float slot, which the epilogue writes too.
/// </summary>
internal sealed record FusedActivation(bool Relu, int Pool, int Height, int Width, ValueSlot Target, ValueSlot? Residual = null, ValueSlot? Floats = null);

/// <summary>
/// What follows a convolution up to the next activation quantizer, fused into the convolution's epilogue:
/// y = (acc − correction)·mul + add (quantizer scales, bias, folded BatchNorm), an optional residual add, an optional
/// ReLU, an optional max pool whose stride is its kernel, then the quantizer, whose integer levels go straight into its
/// slot (the padded HWC bytes of the next direct convolution, or CHW shorts), and the float map too where others read it.
/// Every value takes the same float operations in the same order as in the unfused steps (the product's epilogue, add,
/// ReLU, max pool, <see cref="ActivationCodec.Encode"/>), so codes and floats are identical; what is saved is up to four
/// passes over a float map and the conversion of its layout.
/// </summary>
internal sealed partial class ActivationEpilogue
{
    private readonly int[]? correction;
    private readonly float[] mul, add;
    private readonly bool relu;
    private readonly int pool, width, outHeight, outWidth;
    private readonly ActivationCodec codec;
    private readonly byte[]? blank; // the padded layout with every pixel at value 0, written before each run
    private readonly int offset;
    private readonly ValueSlot? residual, floats; // with a pool of 1 only: the add's other operand and the float map written besides the codes
    private readonly AccumulatorLevels? levels; // the scalar path's codes from the accumulators, where no float map is read or written

    /// <param name="correction">Subtracted from each output's accumulator (the activation offset times the weight row sums), or null.</param>
    /// <param name="mul">Per-output scale of the accumulator.</param>
    /// <param name="add">Per-output shift.</param>
    /// <param name="relu">Whether a ReLU follows.</param>
    /// <param name="pool">The max pool's kernel and stride (1: no pool).</param>
    /// <param name="width">Width of the convolution's output map (its accumulators are rows of positions, row-major).</param>
    /// <param name="outHeight">Height of the map the quantizer sees.</param>
    /// <param name="outWidth">Its width.</param>
    /// <param name="target">The quantizer's slot: <see cref="SlotLayout.PaddedBytes"/> (HWC) or <see cref="SlotLayout.Shorts"/> (CHW, flattened or not).</param>
    /// <param name="residual">A float map (CHW or <see cref="SlotLayout.ChannelsLast"/>) added to the convolution's output before the ReLU, or null; only without a pool.</param>
    /// <param name="floats">A float slot (CHW or <see cref="SlotLayout.ChannelsLast"/>) the epilogue writes the quantizer's input into as well, or null; only without a pool.</param>
    public ActivationEpilogue(int[]? correction, float[] mul, float[] add, bool relu, int pool, int width, int outHeight, int outWidth, ValueSlot target,
        ValueSlot? residual = null, ValueSlot? floats = null)
    {
        if (target.Layout is not (SlotLayout.PaddedBytes or SlotLayout.Shorts) || target.Codec?.Integers is null)
            throw new ArgumentException("The fused epilogue writes integer activations only.", nameof(target));
        if (pool < 1 || outWidth * pool > width) throw new ArgumentOutOfRangeException(nameof(pool), pool, "The pool does not fit the map.");
        if (target.Length != mul.Length * outHeight * outWidth) throw new ArgumentException("The target does not hold the pooled map.", nameof(target));
        foreach (var map in new[] { residual, floats })
            if (map is not null && (pool != 1 || map.Layout is not (SlotLayout.Floats or SlotLayout.ChannelsLast) || map.Length != target.Length || map.Shape[0] != mul.Length))
                throw new ArgumentException("A residual or float map goes with a float map of the target's size and no pool.", map == residual ? nameof(residual) : nameof(floats));
        this.residual = residual;
        this.floats = floats;
        this.outHeight = outHeight;
        this.outWidth = outWidth;
        this.correction = correction;
        this.mul = mul;
        this.add = add;
        this.relu = relu;
        this.pool = pool;
        this.width = width;
        Target = target;
        codec = target.Codec;
        if (residual is null && floats is null) levels = AccumulatorLevels.TryCreate(codec, correction, mul, add, relu);
        if (target.Layout == SlotLayout.PaddedBytes)
        {
            offset = -codec.MinInteger;
            blank = target.BlankBytes(offset);
        }
    }

    /// <summary>The quantizer's slot the epilogue writes.</summary>
    public ValueSlot Target { get; }

    /// <summary>Convolution positions the epilogue reads: whole output rows, those a pool drops left out.</summary>
    public int PositionsRead => outHeight * pool * width;

    /// <summary>Rows of the map the quantizer sees; row r reads the <see cref="PositionsRead"/> / <see cref="Rows"/> positions from r · that.</summary>
    public int Rows => outHeight;

    /// <summary>
    /// One run with threads sharing rows of the map: <see cref="Begin"/>, then per part <paramref name="products"/>(first position,
    /// positions) fills those accumulator rows of <paramref name="acc"/> and the part's rows of the target are written.
    /// </summary>
    public void RunByRows(Workspace ws, ArraySegment<int> acc, int ldc, long cost, Action<int, int> products)
    {
        Begin(ws);
        int perRow = PositionsRead / Rows;
        ws.Split(Rows, cost, (first, count) =>
        {
            products(first * perRow, count * perRow);
            // Every output's block, the last one partial: the binary kernel pads outputs to 8, not 16.
            Write(acc, ldc, 0, (mul.Length + 15) / 16, first, count, ws);
        });
    }

    /// <summary>Resets the target's border and padded channels; call once per run, before any <see cref="Write"/>.</summary>
    public void Begin(Workspace ws) => blank?.CopyTo(ws.Bytes(Target), 0);

    /// <summary>
    /// Writes the target for outputs of the 16-output blocks [<paramref name="firstBlock"/>, <paramref name="firstBlock"/> +
    /// <paramref name="blocks"/>) and rows [<paramref name="firstRow"/>, <paramref name="firstRow"/> + <paramref name="rows"/>)
    /// from accumulators acc[p·<paramref name="ldc"/> + o]. Whole blocks take the AVX-512 path where it runs (the AVX2 one
    /// without AVX-512) and
    /// <paramref name="vectorized"/> allows; the rest the scalar one, which gives the same codes.
    /// </summary>
    public void Write(ReadOnlySpan<int> acc, int ldc, int firstBlock, int blocks, int firstRow, int rows, Workspace ws, bool vectorized = true)
    {
        if (firstRow < 0 || rows < 0 || firstRow + rows > outHeight) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"Rows {firstRow}..{firstRow + rows} lie outside the map's {outHeight}.");
        if (HasMaps)
        {
            WriteMaps(acc, ldc, firstBlock, blocks, firstRow, rows, ws, vectorized);
            return;
        }
        for (int b = firstBlock; b < firstBlock + blocks; b++)
        {
            int first = 16 * b, end = Math.Min(mul.Length, first + 16);
            if (vectorized && codec.IsVectorized && end - first == 16) WriteBlock(acc, ldc, first, firstRow, firstRow + rows, ws);
            else if (vectorized && codec.IsVectorized256 && end - first == 16) WriteBlock256(acc, ldc, first, firstRow, firstRow + rows, ws);
            else if (levels is not null) WriteLevels(levels, acc, ldc, first, end, firstRow, firstRow + rows, ws);
            else for (int o = first; o < end; o++) WriteOutput(acc, ldc, o, firstRow, firstRow + rows, ws);
        }
    }

    /// <summary>
    /// Outputs [<paramref name="first"/>, <paramref name="end"/>) of rows [<paramref name="firstRow"/>, <paramref name="endRow"/>)
    /// by <see cref="AccumulatorLevels"/>, pixel by pixel (the accumulators and an HWC target in order), the pool's max by masks.
    /// </summary>
    private unsafe void WriteLevels(AccumulatorLevels levels, ReadOnlySpan<int> acc, int ldc, int first, int end, int firstRow, int endRow, Workspace ws)
    {
        if ((long)endRow * pool * width * ldc > acc.Length) throw new ArgumentException("The accumulators do not hold the rows.", nameof(acc));
        var bytes = blank is not null ? ws.Bytes(Target) : null;
        var shorts = blank is null ? ws.Shorts(Target) : null!;
        int slots = levels.Slots;
        fixed (int* accumulators = acc)
        fixed (long* starts = levels.Starts)
        fixed (int* flips = levels.Flips)
        {
            for (int oy = firstRow; oy < endRow; oy++)
                for (int ox = 0; ox < outWidth; ox++)
                {
                    int* window = accumulators + (oy * pool * width + ox * pool) * ldc;
                    int pixel = bytes is null ? 0 : Pixel(oy, ox);
                    for (int o = first; o < end; o++)
                    {
                        int flip = flips[o];
                        long best = window[o] ^ flip;
                        for (int dy = 0; dy < pool; dy++)
                            for (int dx = 0; dx < pool; dx++)
                            {
                                long d = (window[(dy * width + dx) * ldc + o] ^ flip) - best;
                                best += d & ~(d >> 63);
                            }
                        int level = codec.LevelOfCount(AccumulatorLevels.Count(starts + o * slots, slots, best));
                        if (bytes is not null) bytes[pixel + o] = (byte)(level + offset);
                        else shorts[(o * outHeight + oy) * outWidth + ox] = (short)level;
                    }
                }
        }
    }

    /// <summary>Output <paramref name="o"/> of rows [<paramref name="firstRow"/>, <paramref name="endRow"/>): a row of pooled values, then its levels as one run (grids of more than 16 levels).</summary>
    private void WriteOutput(ReadOnlySpan<int> acc, int ldc, int o, int firstRow, int endRow, Workspace ws)
    {
        int c = correction?[o] ?? 0;
        float m = mul[o], a = add[o];
        var bytes = blank is not null ? ws.Bytes(Target) : null;
        var shorts = blank is null ? ws.Shorts(Target) : null!;
        Span<float> pooled = outWidth <= 256 ? stackalloc float[outWidth] : new float[outWidth];
        Span<int> levels = outWidth <= 256 ? stackalloc int[outWidth] : new int[outWidth];
        for (int oy = firstRow; oy < endRow; oy++)
        {
            if (pool == 1)
            {
                // Without a pool, no running max (Math.Max of floats is a blend of masks without SIMD).
                var row = acc.Slice(oy * width * ldc);
                for (int ox = 0; ox < outWidth; ox++)
                {
                    float v = (row[ox * ldc + o] - c) * m + a;
                    pooled[ox] = relu ? Math.Max(v, 0f) : v;
                }
            }
            else for (int ox = 0; ox < outWidth; ox++)
            {
                float best = float.NegativeInfinity;
                for (int dy = 0; dy < pool; dy++)
                    for (int dx = 0; dx < pool; dx++)
                    {
                        float v = (acc[((oy * pool + dy) * width + ox * pool + dx) * ldc + o] - c) * m + a;
                        best = Math.Max(best, relu ? Math.Max(v, 0f) : v);
                    }
                pooled[ox] = best;
            }
            codec.EncodeIntegerRun(pooled, levels);
            if (bytes is not null)
            {
                int pixel = Pixel(oy, 0) + o, channels = Target.PaddedChannels;
                for (int ox = 0; ox < outWidth; ox++, pixel += channels) bytes[pixel] = (byte)(levels[ox] + offset);
            }
            else
            {
                var row = shorts.AsSpan((o * outHeight + oy) * outWidth, outWidth);
                for (int ox = 0; ox < outWidth; ox++) row[ox] = (short)levels[ox];
            }
        }
    }

    // The block's loops are split by target and kept free of calls, so that the JIT keeps the affine vectors in registers
    // (one method with both targets spilled them and called Pixel per pixel: 8.5 ns a vector, now a fraction of that).
    private unsafe void WriteBlock(ReadOnlySpan<int> acc, int ldc, int first, int firstRow, int endRow, Workspace ws)
    {
        var affine = BlockAffine(first, relu);
        fixed (int* accumulators = acc)
        {
            if (blank is null)
            {
                WriteShorts(accumulators + first, ldc, ws.Shorts(Target), first, firstRow, endRow, affine);
                return;
            }
            fixed (byte* bytes = ws.Bytes(Target))
            {
                if (codec.InRegisters is { } grid) WriteBytes(grid, accumulators + first, ldc, bytes + first, firstRow, endRow, affine);
                else WriteBytes(new CodecEncoder(codec), accumulators + first, ldc, bytes + first, firstRow, endRow, affine);
            }
        }
    }

    private unsafe void WriteBytes<TEncoder>(TEncoder encoder, int* acc, int ldc, byte* target, int firstRow, int endRow, Affine affine)
        where TEncoder : struct, IVectorEncoder
    {
        var bias = Vector512.Create(offset);
        int channels = Target.PaddedChannels, rowBytes = Target.PaddedWidth * channels, start = (Target.Padding * Target.PaddedWidth + Target.Padding) * channels;
        for (int oy = firstRow; oy < endRow; oy++)
        {
            byte* pixel = target + start + oy * rowBytes;
            int* window = acc + (long)oy * pool * width * ldc;
            for (int ox = 0; ox < outWidth; ox++, pixel += channels, window += pool * ldc)
                Avx512F.ConvertToVector128Byte(encoder.Encode(Pooled(window, ldc, affine)) + bias).Store(pixel);
        }
    }

    private unsafe void WriteShorts(int* acc, int ldc, short[] target, int first, int firstRow, int endRow, Affine affine)
    {
        int* lanes = stackalloc int[16]; // a CHW target takes the 16 levels one by one
        for (int oy = firstRow; oy < endRow; oy++)
        {
            int* window = acc + (long)oy * pool * width * ldc;
            for (int ox = 0; ox < outWidth; ox++, window += pool * ldc)
            {
                codec.EncodeIntegers(Pooled(window, ldc, affine)).Store(lanes);
                for (int j = 0; j < 16; j++) target[((first + j) * outHeight + oy) * outWidth + ox] = (short)lanes[j];
            }
        }
    }

    /// <summary>The max over the pool window (top-left accumulators at <paramref name="window"/>) of the affine values, ReLU'd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe Vector512<float> Pooled(int* window, int ldc, in Affine affine)
    {
        if (pool == 1) return affine.Apply(Vector512.Load(window)); // a convolution without pool: one value, no running max
        if (pool == 2) // the common pool unrolled in the loop's order (through the loop it took 4.5 ns a vector on AVX2, unrolled 2.9)
        {
            var max = affine.Apply(Vector512.Load(window)); // what the loop's max(−∞, v) gives, NaN and −0 included
            max = Avx512F.Max(max, affine.Apply(Vector512.Load(window + ldc)));
            max = Avx512F.Max(max, affine.Apply(Vector512.Load(window + width * ldc)));
            return Avx512F.Max(max, affine.Apply(Vector512.Load(window + (width + 1) * ldc)));
        }
        var best = Vector512.Create(float.NegativeInfinity);
        for (int dy = 0; dy < pool; dy++)
            for (int dx = 0; dx < pool; dx++) best = Avx512F.Max(best, affine.Apply(Vector512.Load(window + (dy * width + dx) * ldc)));
        return best;
    }

    /// <summary>The affine of outputs [<paramref name="first"/>, +16), with the ReLU or not.</summary>
    private Affine BlockAffine(int first, bool withRelu) => new(correction is null ? Vector512<int>.Zero : Vector512.Create<int>(correction.AsSpan(first, 16)),
        Vector512.Create<float>(mul.AsSpan(first, 16)), Vector512.Create<float>(add.AsSpan(first, 16)), withRelu);

    /// <summary>
    /// (acc − c)·m + a for 16 outputs, then the ReLU if any: the scalar path's operations, in its order. The maxima are plain
    /// vmaxps: without NaN they differ from Math.Max only in the sign of a zero, which no threshold comparison sees.
    /// </summary>
    private readonly struct Affine(Vector512<int> correction, Vector512<float> mul, Vector512<float> add, bool relu)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector512<float> Apply(Vector512<int> acc)
        {
            var v = Avx512F.ConvertToVector512Single(acc - correction) * mul + add;
            return relu ? Avx512F.Max(v, Vector512<float>.Zero) : v;
        }
    }

    /// <summary>Where pixel (row, col) starts in the padded HWC layout.</summary>
    private int Pixel(int row, int col) => ((row + Target.Padding) * Target.PaddedWidth + Target.Padding + col) * Target.PaddedChannels;
}
