using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>
/// The input gates W_ih·q(E[v]) + b of an LSTM that reads an embedding E through an integer activation quantizer q: they
/// depend on the token v alone, so the compiler computes them once for the whole vocabulary (through the embedding, quantizer
/// and product steps the sequence would run, so the floats are the same) and the LSTM looks up one row per position instead of
/// multiplying every sequence. Rows are [4H] in the gates' order, token-major.
/// </summary>
internal sealed class TokenGates
{
    private readonly float[] table;

    /// <param name="embedding">The embedding node, named in errors about token ids.</param>
    /// <param name="ids">The token ids [T], as floats.</param>
    /// <param name="table">The rows, <paramref name="vocabulary"/> × <paramref name="width"/>.</param>
    /// <param name="vocabulary">Rows.</param>
    /// <param name="width">4H.</param>
    public TokenGates(string embedding, ValueSlot ids, float[] table, int vocabulary, int width)
    {
        if (table.Length < (long)vocabulary * width) throw new ArgumentException($"{vocabulary} rows of {width} need {(long)vocabulary * width} values.", nameof(table));
        Embedding = embedding;
        Ids = ids;
        this.table = table;
        Vocabulary = vocabulary;
        Width = width;
    }

    /// <summary>The embedding node folded into the table.</summary>
    public string Embedding { get; }

    /// <summary>The token ids slot.</summary>
    public ValueSlot Ids { get; }

    /// <summary>Tokens.</summary>
    public int Vocabulary { get; }

    /// <summary>Gate pre-activations per token (4H).</summary>
    public int Width { get; }

    /// <summary>Memory the table holds.</summary>
    public long Bytes => (long)Vocabulary * Width * sizeof(float);

    /// <summary>Largest table the compiler builds: 64 MiB (a 32,768-token vocabulary under 128 hidden units); beyond it the LSTM multiplies each sequence.</summary>
    public const long MaxBytes = 64L << 20;

    /// <summary>Checks every id of the example, as the embedding step would.</summary>
    public void Check(Workspace ws)
    {
        foreach (float id in ws.Floats(Ids)) EmbeddingStep.Row(Embedding, id, Vocabulary);
    }

    /// <summary>The input gates of position <paramref name="t"/> (ids checked by <see cref="Check"/>).</summary>
    public ReadOnlySpan<float> Row(Workspace ws, int t) => table.AsSpan((int)ws.Floats(Ids)[t] * Width, Width);

    /// <summary>
    /// Starts fetching position <paramref name="t"/>'s row into the cache: the rows of a large table lie far apart and out of
    /// the caches, and asked for a step ahead they arrive while the step before multiplies (x86; elsewhere a no-op).
    /// </summary>
    public unsafe void Prefetch(Workspace ws, int t)
    {
        if (!Sse.IsSupported) return;
        fixed (float* row = &table[(int)ws.Floats(Ids)[t] * Width])
            for (int i = 0; i < Width; i += 16) Sse.Prefetch0(row + i); // one 64-byte line each
    }
}
