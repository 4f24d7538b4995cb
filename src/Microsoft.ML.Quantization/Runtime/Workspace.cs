namespace Microsoft.ML.Quantization.Runtime;

/// <summary>
/// The memory of one scoring call: a buffer per value slot and scratch that grows on demand and is reused
/// by every step. Workspaces are pooled by <see cref="PackedNetwork"/>, so steady-state scoring allocates nothing.
/// </summary>
internal sealed class Workspace
{
    private readonly float[][] floats;
    private readonly short[][] shorts;
    private int[] ints = Array.Empty<int>();
    private float[] accumulator = Array.Empty<float>();
    private byte[] rowBytes = Array.Empty<byte>();
    private short[] rowShorts = Array.Empty<short>();
    private float[] rowFloats = Array.Empty<float>();

    public Workspace(IReadOnlyList<ValueSlot> slots)
    {
        floats = slots.Select(s => s.IsInteger ? Array.Empty<float>() : new float[s.Length]).ToArray();
        shorts = slots.Select(s => s.IsInteger ? new short[s.Length] : Array.Empty<short>()).ToArray();
    }

    /// <summary>The float values of a slot.</summary>
    public float[] Floats(ValueSlot slot) => floats[slot.Index];

    /// <summary>The integer activations of a slot.</summary>
    public short[] Shorts(ValueSlot slot) => shorts[slot.Index];

    /// <summary>Int32 scratch of at least <paramref name="length"/>.</summary>
    public Span<int> Ints(int length) => Grow(ref ints, length).AsSpan(0, length);

    /// <summary>Float accumulator scratch of at least <paramref name="length"/>.</summary>
    public Span<float> Floats2(int length) => Grow(ref accumulator, length).AsSpan(0, length);

    /// <summary>Byte rows (cleared).</summary>
    public Span<byte> RowBytes(int length) => Cleared(Grow(ref rowBytes, length), length);

    /// <summary>Short rows (cleared).</summary>
    public Span<short> RowShorts(int length) => Cleared(Grow(ref rowShorts, length), length);

    /// <summary>Float rows (cleared).</summary>
    public Span<float> RowFloats(int length) => Cleared(Grow(ref rowFloats, length), length);

    private static T[] Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length < length) buffer = new T[length];
        return buffer;
    }

    private static Span<T> Cleared<T>(T[] buffer, int length)
    {
        var span = buffer.AsSpan(0, length);
        span.Clear();
        return span;
    }
}

/// <summary>A value between steps: one example's output of a node, float or integer activations.</summary>
/// <param name="Index">Position in the workspace.</param>
/// <param name="Shape">Per-example shape.</param>
/// <param name="Codec">The activation quantizer's codec when the slot holds integer activations.</param>
internal sealed record ValueSlot(int Index, int[] Shape, ActivationCodec? Codec)
{
    /// <summary>Elements per example.</summary>
    public int Length => Shape.Aggregate(1, (a, b) => a * b);

    /// <summary>Whether the slot holds integer activations (value = integer · codec unit).</summary>
    public bool IsInteger => Codec?.Integers is not null;
}
