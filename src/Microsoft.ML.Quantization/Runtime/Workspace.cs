namespace Microsoft.ML.Quantization.Runtime;

/// <summary>
/// The memory of one scoring call: a buffer per value slot and scratch that grows on demand and is reused
/// by every step. Workspaces are pooled by <see cref="PackedNetwork"/>, so steady-state scoring allocates nothing.
/// </summary>
internal sealed class Workspace
{
    private readonly float[][] floats;
    private readonly short[][] shorts;
    private readonly byte[][] bytes;
    private int[] ints = Array.Empty<int>();
    private int intsStart;
    private ulong[] words = Array.Empty<ulong>();
    private float[] accumulator = Array.Empty<float>();
    private float[] gateFloats = Array.Empty<float>();
    private byte[] rowBytes = Array.Empty<byte>();
    private short[] rowShorts = Array.Empty<short>();
    private float[] rowFloats = Array.Empty<float>();
    private byte[] planeBytes = Array.Empty<byte>();
    private short[] planeShorts = Array.Empty<short>();
    private float[] planeFloats = Array.Empty<float>();

    public Workspace(IReadOnlyList<ValueSlot> slots)
    {
        floats = slots.Select(s => s.Layout is SlotLayout.Floats or SlotLayout.ChannelsLast ? new float[s.Length] : Array.Empty<float>()).ToArray();
        shorts = slots.Select(s => s.Layout == SlotLayout.Shorts ? new short[s.Length] : Array.Empty<short>()).ToArray();
        bytes = slots.Select(s => s.Layout == SlotLayout.PaddedBytes ? new byte[s.StoredLength] : Array.Empty<byte>()).ToArray();
    }

    /// <summary>Threads a step may use for one example (1 unless the caller asked for intra-example parallelism).</summary>
    public int Threads { get; set; } = 1;

    /// <summary>
    /// Runs <paramref name="part"/>(start, count) over [0, <paramref name="total"/>) in up to <see cref="Threads"/>
    /// contiguous parts, in parallel on <see cref="LayerThreads"/> when the work (<paramref name="cost"/> multiply-adds) is worth a thread.
    /// </summary>
    public void Split(int total, long cost, Action<int, int> part)
    {
        int parts = cost < MinParallelCost ? 1 : Math.Min(Threads, total);
        if (parts <= 1)
        {
            part(0, total);
            return;
        }
        LayerThreads.Run(parts, i =>
        {
            int start = (int)((long)total * i / parts), end = (int)((long)total * (i + 1) / parts);
            part(start, end - start);
        });
    }

    private const long MinParallelCost = 1 << 17; // VggSmall's 8-bit first layer (226K multiply-adds, 16 µs alone) still gains

    /// <summary>The float values of a slot.</summary>
    public float[] Floats(ValueSlot slot) => floats[slot.Index];

    /// <summary>The integer activations of a slot.</summary>
    public short[] Shorts(ValueSlot slot) => shorts[slot.Index];

    /// <summary>The padded HWC bytes of a slot.</summary>
    public byte[] Bytes(ValueSlot slot) => bytes[slot.Index];

    /// <summary>Int32 scratch of <paramref name="length"/> (see <see cref="AlignedInts"/>).</summary>
    public Span<int> Ints(int length) => AlignedInts(length).AsSpan();

    /// <summary>
    /// Int32 scratch of <paramref name="length"/> starting on a 64-byte boundary, in a pinned array. Threads that share a
    /// layer by output blocks write neighbouring columns of every accumulator row; with rows of whole cache lines from an
    /// aligned start they never share a line (an unaligned start made VggSmall's middle layers up to 1.6× slower on 2 threads).
    /// </summary>
    public ArraySegment<int> AlignedInts(int length)
    {
        if (ints.Length < length + IntsPerLine)
        {
            ints = GC.AllocateArray<int>(length + IntsPerLine, pinned: true);
            intsStart = StartOfLine(ints);
        }
        return new ArraySegment<int>(ints, intsStart, length);
    }

    private const int IntsPerLine = 64 / sizeof(int);

    private static unsafe int StartOfLine(int[] pinned)
    {
        fixed (int* p = pinned) return (int)((64 - (long)p % 64) % 64 / sizeof(int));
    }

    /// <summary>64-bit word scratch of at least <paramref name="length"/> (bit planes).</summary>
    public ulong[] WordArray(int length) => Grow(ref words, length);

    /// <summary>Float scratch of <paramref name="length"/> for the recurrent gates of the LSTM (apart from the products' own scratch).</summary>
    public Span<float> GateFloats(int length) => Grow(ref gateFloats, length).AsSpan(0, length);

    /// <summary>Float accumulator scratch of at least <paramref name="length"/>.</summary>
    public Span<float> Floats2(int length) => Grow(ref accumulator, length).AsSpan(0, length);

    /// <summary>
    /// Byte rows (the first <paramref name="length"/> cleared unless <paramref name="cleared"/> is false: for a writer of whole
    /// rows, such as a convolution window, which also zeroes their padding), as an array for steps that split work across threads.
    /// </summary>
    public byte[] RowBytes(int length, bool cleared = true) => cleared ? Cleared(Grow(ref rowBytes, length), length) : Grow(ref rowBytes, length);

    /// <summary>Short rows (the first <paramref name="length"/> cleared unless <paramref name="cleared"/> is false), as an array.</summary>
    public short[] RowShorts(int length, bool cleared = true) => cleared ? Cleared(Grow(ref rowShorts, length), length) : Grow(ref rowShorts, length);

    /// <summary>Float rows (cleared).</summary>
    public Span<float> RowFloats(int length) => Cleared(Grow(ref rowFloats, length), length).AsSpan(0, length);

    /// <summary>A convolution's input with its border, as bytes (not cleared: the window writes it whole).</summary>
    public byte[] PlaneBytes(int length) => Grow(ref planeBytes, length);

    /// <summary>A convolution's input with its border, as shorts.</summary>
    public short[] PlaneShorts(int length) => Grow(ref planeShorts, length);

    /// <summary>A convolution's input with its border, as floats.</summary>
    public float[] PlaneFloats(int length) => Grow(ref planeFloats, length);

    private static T[] Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new T[length];
        return buffer;
    }

    private static T[] Cleared<T>(T[] buffer, int length)
    {
        buffer.AsSpan(0, length).Clear();
        return buffer;
    }
}

/// <summary>How a <see cref="ValueSlot"/> stores one example.</summary>
internal enum SlotLayout
{
    /// <summary>Floats in the node's shape (CHW).</summary>
    Floats,
    /// <summary>Integer activations (value = integer · codec unit) in the node's shape.</summary>
    Shorts,
    /// <summary>
    /// Integer activations plus the consumer's offset as bytes, HWC with a zero border of <see cref="ValueSlot.Padding"/>
    /// pixels (holding the offset, i.e. the value 0) and channels rounded up to 4 (holding byte 0): the input of a direct convolution.
    /// </summary>
    PaddedBytes,
    /// <summary>
    /// Floats with each pixel's channels contiguous (HWC), the accumulators' order: a residual block's output, which the next
    /// block's fused epilogue adds and quantizers read, without transposing it from and back to CHW.
    /// </summary>
    ChannelsLast,
}

/// <summary>A value between steps: one example's output of a node.</summary>
/// <param name="Index">Position in the workspace.</param>
/// <param name="Shape">Per-example shape.</param>
/// <param name="Codec">The activation quantizer's codec when the slot holds quantized activations.</param>
/// <param name="Layout">How the values are stored.</param>
/// <param name="Padding">Border width of <see cref="SlotLayout.PaddedBytes"/>.</param>
/// <param name="Sampling">
/// 1, or s: the slot holds every s-th row and column of the map its node makes (a 1×1 stride-s convolution's quantized
/// input, where the quantizer writes only the pixels the convolution reads).
/// </param>
internal sealed record ValueSlot(int Index, int[] Shape, ActivationCodec? Codec, SlotLayout Layout = SlotLayout.Floats, int Padding = 0, int Sampling = 1)
{
    /// <summary>Elements per example.</summary>
    public int Length => Shape.Aggregate(1, (a, b) => a * b);

    /// <summary>Whether the slot holds integer activations as shorts (value = integer · codec unit).</summary>
    public bool IsInteger => Layout == SlotLayout.Shorts;

    /// <summary>Channels rounded up to 4 (<see cref="SlotLayout.PaddedBytes"/>).</summary>
    public int PaddedChannels => (Shape[0] + 3) & ~3;

    /// <summary>Padded height and width (<see cref="SlotLayout.PaddedBytes"/>).</summary>
    public int PaddedHeight => Shape[1] + 2 * Padding;

    /// <inheritdoc cref="PaddedHeight"/>
    public int PaddedWidth => Shape[2] + 2 * Padding;

    /// <summary>The <see cref="SlotLayout.PaddedBytes"/> layout with every pixel at value 0 (<paramref name="offset"/>) and padded channels at byte 0.</summary>
    public byte[] BlankBytes(int offset)
    {
        var blank = new byte[StoredLength];
        for (int i = 0; i < blank.Length; i++) blank[i] = i % PaddedChannels < Shape[0] ? (byte)offset : (byte)0;
        return blank;
    }

    /// <summary>Where value (channel <paramref name="c"/>, pixel <paramref name="p"/>) of a float slot is stored: CHW, or HWC for <see cref="SlotLayout.ChannelsLast"/>.</summary>
    public int FloatIndex(int c, int p) => Layout == SlotLayout.ChannelsLast ? p * Shape[0] + c : c * (Length / Shape[0]) + p;

    /// <summary>Stored elements per example.</summary>
    public int StoredLength => Layout == SlotLayout.PaddedBytes ? PaddedHeight * PaddedWidth * PaddedChannels : Length;
}
