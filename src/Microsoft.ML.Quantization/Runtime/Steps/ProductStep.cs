using System.Runtime.Intrinsics;

namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>
/// Conv2d or Linear: gathers the input into rows (im2col for a convolution, through its <see cref="ConvolutionWindow"/>;
/// the identity for a linear layer), converts them to the form its <see cref="DenseProduct"/> takes,
/// and writes the channel-major output, or, with an <see cref="ActivationEpilogue"/>, the codes of the quantizer
/// after its ReLU and pool.
/// </summary>
internal sealed class ProductStep : ScoringStep
{
    private readonly ValueSlot input;
    private readonly DenseProduct product;
    private readonly ConvolutionWindow? window;
    private readonly int inputOffset;
    private readonly int positions;
    private readonly ActivationEpilogue? epilogue;

    private readonly bool positionMajor;
    private readonly int[]? pairOffsets, starts; // an int16 convolution's rows read in place from its padded plane

    private const int ChunkPositions = 128; // rows gathered, multiplied and written at a time: a 7×7×3 stem's are 37 KB as shorts

    /// <summary>
    /// The step; <paramref name="window"/>: a convolution's, over the input from element <paramref name="inputOffset"/> on
    /// (a group's channels); <paramref name="positionMajor"/>: a position-major float output ([positions, outputs], the
    /// LSTM's input gates) rather than channel-major.
    /// </summary>
    public ProductStep(string name, ValueSlot input, ValueSlot output, DenseProduct product, ConvolutionWindow? window, int positions, ActivationEpilogue? epilogue = null,
        bool positionMajor = false, int inputOffset = 0)
        : base(name, epilogue?.Target ?? output)
    {
        this.positionMajor = positionMajor;
        this.epilogue = epilogue;
        this.input = input;
        this.window = window;
        // 16-bit rows are read where they lie in the plane (a stem's 784 rows of 9 took 4.7 us to gather, its product 1.4).
        if (window is { PairsInPlace: true } && product.Input == ProductInput.Shorts)
        {
            product = product.OverPlane(window.PairedColumns(), window.PairedDepth);
            (pairOffsets, starts) = (window.PairOffsets(), window.PositionStarts());
        }
        this.product = product;
        this.inputOffset = inputOffset;
        this.positions = positions;
    }

    public override string Kernel => product.Kernel;

    public override long WeightBytes => product.WeightBytes;

    public override void Run(Workspace ws)
    {
        int ldx = product.PaddedDepth;
        var y = epilogue is null ? ws.Floats(Output) : Array.Empty<float>();
        switch (product.Input)
        {
            case ProductInput.Bytes:
                Finish(ws, ws.RowBytes(positions * ldx, cleared: window is null), null, ldx, y);
                break;
            case ProductInput.Shorts:
                Finish(ws, null, starts is null ? ws.RowShorts(positions * ldx, cleared: window is null) : Array.Empty<short>(), ldx, y);
                break;
            default:
            {
                var rows = ws.RowFloats(positions * ldx);
                if (input.IsInteger) Rows(ws.Shorts(input), rows, ldx, positions, new ScaledLevel(input.Codec?.Unit ?? 1f), ws);
                else Rows(ws.Floats(input), rows, ldx, positions, new SameFloat(), ws);
                product.Run(ws, default, default, rows, ldx, positions, y, positionMajor ? product.Outputs : positions, positionMajor);
                break;
            }
        }
    }

    /// <summary>
    /// Gathers integer rows (bytes: level + offset, or shorts: the level) for the positions, then the integer product and the
    /// float output or the fused epilogue, whose rows threads share (each gathering its own positions).
    /// </summary>
    private void Finish(Workspace ws, byte[]? bytes, short[]? shorts, int ldx, float[] y)
    {
        int ldc = product.PaddedOutputs;
        if (window is not null) // the input with its border, once for all the threads' rows
        {
            var x = ws.Shorts(input).AsSpan(inputOffset);
            if (bytes is not null) window.Pad(x, ws.PlaneBytes(window.PlaneLength), new OffsetLevel((short)product.Offset));
            else window.Pad(x, ws.PlaneShorts(window.PlaneLength), new SameLevel());
        }
        if (epilogue is null && !product.CanFuse) // ResQ's bit planes: each plane's product over all the rows
        {
            Gather(ws, bytes, shorts, ldx, 0, positions);
            product.Run(ws, bytes, shorts, default, ldx, positions, y, positionMajor ? product.Outputs : positions, positionMajor);
            return;
        }
        if (epilogue is null)
        {
            // Threads share the positions; each gathers, multiplies and writes a chunk at a time, so that its rows and sums
            // are still in cache when read (ResNet18's stem has 3.7 MB of rows and 3.2 MB of sums).
            var sums = ws.AlignedInts(positions * ldc);
            int ldy = positionMajor ? product.Outputs : positions;
            ws.Split(positions, (long)positions * product.Outputs * product.Depth, (first, count) =>
            {
                for (int start = first; start < first + count; start += ChunkPositions)
                {
                    int n = Math.Min(ChunkPositions, first + count - start);
                    Accumulate(ws, bytes, shorts, ldx, start, n, sums.AsSpan(start * ldc));
                    product.Write(sums, start, n, y, ldy, positionMajor);
                }
            });
            return;
        }
        int read = epilogue.PositionsRead;
        var acc = ws.AlignedInts(read * ldc);
        epilogue.RunByRows(ws, acc, ldc, (long)read * product.Outputs * product.Depth, (start, n) => Accumulate(ws, bytes, shorts, ldx, start, n, acc.AsSpan(start * ldc)));
    }

    /// <summary>Gathers the rows of positions [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) and writes their integer sums into <paramref name="sums"/>.</summary>
    private void Accumulate(Workspace ws, byte[]? bytes, short[]? shorts, int ldx, int start, int count, Span<int> sums)
    {
        if (starts is not null)
        {
            product.AccumulatePairs(ws.PlaneShorts(window!.PlaneLength), pairOffsets, starts.AsSpan(start, count), sums);
            return;
        }
        Gather(ws, bytes, shorts, ldx, start, count);
        product.Accumulate(bytes.AsSpan(Math.Min(bytes?.Length ?? 0, start * ldx)), shorts.AsSpan(Math.Min(shorts?.Length ?? 0, start * ldx)), ldx, count, sums);
    }

    /// <summary>
    /// The input rows of positions [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>) into whichever of
    /// the two arrays is given: through the window from the plane <see cref="Finish"/> padded, or the input's rows as they stand.
    /// </summary>
    private void Gather(Workspace ws, byte[]? bytes, short[]? shorts, int ldx, int start, int count)
    {
        if (window is not null)
        {
            if (bytes is not null) window.Rows<byte>(ws.PlaneBytes(window.PlaneLength), start, count, bytes, ldx);
            else window.Rows<short>(ws.PlaneShorts(window.PlaneLength), start, count, shorts, ldx);
            return;
        }
        var x = ws.Shorts(input);
        int depth = product.Depth, offset = product.Offset;
        if (bytes is null)
        {
            for (int p = start; p < start + count; p++) x.AsSpan(p * depth, depth).CopyTo(shorts.AsSpan(p * ldx));
            return;
        }
        // Rows as they stand (a linear layer, the LSTM's inputs): 32 at a time.
        var bias = Vector256.Create((short)offset);
        for (int p = start; p < start + count; p++)
        {
            int k = 0;
            if (Vector256.IsHardwareAccelerated)
                for (; k + 32 <= depth; k += 32)
                    Vector256.Narrow((Vector256.Create(x, p * depth + k) + bias).AsUInt16(), (Vector256.Create(x, p * depth + k + 16) + bias).AsUInt16()).CopyTo(bytes, p * ldx + k);
            for (; k < depth; k++) bytes[p * ldx + k] = (byte)(x[p * depth + k] + offset);
        }
    }

    /// <summary>Float rows of all positions: through the window (its plane in <paramref name="ws"/>), or the input's rows as they stand.</summary>
    private void Rows<TIn, TElement>(ReadOnlySpan<TIn> x, Span<float> rows, int ldx, int count, TElement element, Workspace ws) where TElement : struct, IRowElement<TIn, float>
    {
        if (window is not null)
        {
            var padded = ws.PlaneFloats(window.PlaneLength);
            window.Pad(x[inputOffset..], padded, element);
            window.Rows<float>(padded, 0, count, rows, ldx);
            return;
        }
        int depth = product.Depth;
        for (int p = 0; p < count; p++)
        {
            var source = x.Slice(p * depth, depth);
            var row = rows.Slice(p * ldx, depth);
            for (int k = 0; k < depth; k++) row[k] = element.From(source[k]);
        }
    }

    private readonly struct SameLevel : IRowElement<short, short>
    {
        public short Pad => 0;
        public short From(short value) => value;
    }

    private readonly struct SameFloat : IRowElement<float, float>
    {
        public float Pad => 0f;
        public float From(float value) => value;
    }

    /// <summary>The level plus the product's offset, as the int8 kernel's unsigned byte; padding is level 0.</summary>
    private readonly struct OffsetLevel(short offset) : IRowElement<short, byte>
    {
        public byte Pad => (byte)offset;
        public byte From(short value) => (byte)(value + offset);
    }

    /// <summary>An integer input as its value, level times unit; padding is 0.</summary>
    private readonly struct ScaledLevel(float unit) : IRowElement<short, float>
    {
        public float Pad => 0f;
        public float From(short value) => value * unit;
    }
}
