namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// An O × (taps · channels) matrix of ±1 weights prepared for <see cref="BinaryGemm"/>: each tap's channels are
/// <see cref="WordsPerTap"/> 64-bit words (bit i of word j is channel 64j + i, set for +1, clear beyond the
/// channels), stored in blocks of 8 outputs with one 64-bit lane per output, outputs padded to 8 with zeros.
/// </summary>
internal sealed class BinaryWeights
{
    private BinaryWeights(int outputs, int wordsPerTap, int words, ulong[] data)
    {
        Outputs = outputs;
        WordsPerTap = wordsPerTap;
        Words = words;
        Data = data;
    }

    /// <summary>Rows O.</summary>
    public int Outputs { get; }

    /// <summary>O rounded up to 8.</summary>
    public int PaddedOutputs => (Outputs + 7) & ~7;

    /// <summary>Words holding one tap's channels.</summary>
    public int WordsPerTap { get; }

    /// <summary>Words per output: taps × <see cref="WordsPerTap"/>.</summary>
    public int Words { get; }

    /// <summary>The blocks: word k of output o at ((o / 8) · <see cref="Words"/> + k) · 8 + o % 8.</summary>
    public ulong[] Data { get; }

    /// <summary>Word <paramref name="k"/> of output <paramref name="o"/>.</summary>
    public ulong Word(int o, int k) => Data[((o / 8) * Words + k) * 8 + o % 8];

    /// <summary>Prepares the weights from <paramref name="positive"/>[(o · taps + t) · channels + c], true for +1.</summary>
    public static BinaryWeights FromSigns(ReadOnlySpan<bool> positive, int outputs, int taps, int channels)
    {
        if (outputs <= 0 || taps <= 0 || channels <= 0) throw new ArgumentOutOfRangeException(nameof(outputs), "Outputs, taps and channels must be positive.");
        if (positive.Length != (long)outputs * taps * channels) throw new ArgumentException($"Expected {(long)outputs * taps * channels} signs, got {positive.Length}.", nameof(positive));
        int perTap = (channels + 63) / 64, words = taps * perTap;
        var data = new ulong[(long)((outputs + 7) / 8) * words * 8];
        for (int o = 0; o < outputs; o++)
            for (int t = 0; t < taps; t++)
                for (int c = 0; c < channels; c++)
                {
                    if (positive[(o * taps + t) * channels + c]) data[((o / 8) * words + t * perTap + c / 64) * 8 + o % 8] |= 1UL << (c % 64);
                }
        return new BinaryWeights(outputs, perTap, words, data);
    }
}
