using System.Globalization;
using System.Text;

namespace Microsoft.ML.Quantization.MLNet.Text;

/// <summary>
/// The vocabulary a text model learns at fit time: lower-cased runs of letters and digits, the most
/// frequent first. Id 0 pads, id 1 stands for any token outside the vocabulary.
/// </summary>
internal sealed class TextVocabulary
{
    public const long PaddingId = 0;
    public const long UnknownId = 1;
    private const int ReservedIds = 2;
    private const int MaxTokenLength = 40;
    private readonly Dictionary<string, long> ids;

    public TextVocabulary(IReadOnlyList<string> tokens)
    {
        Tokens = tokens;
        ids = new Dictionary<string, long>(tokens.Count, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++)
        {
            if (!ids.TryAdd(tokens[i], i + ReservedIds)) throw new InvalidDataException($"The vocabulary holds '{tokens[i]}' twice.");
        }
    }

    /// <summary>Tokens by id − 2.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>Ids in use, reserved ones included (the embedding's row count).</summary>
    public int Size => Tokens.Count + ReservedIds;

    /// <summary>The <paramref name="maxSize"/> − 2 most frequent tokens seen at least <paramref name="minCount"/> times (ties by ordinal order).</summary>
    public static TextVocabulary Build(IEnumerable<string> texts, int maxSize, int minCount = 2)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string text in texts)
        {
            foreach (string token in Tokenize(text)) counts[token] = counts.GetValueOrDefault(token) + 1;
        }
        var tokens = counts.Where(kv => kv.Value >= minCount).OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Take(Math.Max(0, maxSize - ReservedIds)).Select(kv => kv.Key).ToArray();
        return new TextVocabulary(tokens);
    }

    /// <summary>
    /// The ids of <paramref name="length"/> tokens: the first half and the last half of the text (a mail's
    /// headers and subject, and the end of its body), or all of a shorter text, left-padded so the last token
    /// comes last. Reads the text once, keeping only the tail in a ring.
    /// </summary>
    public long[] Encode(string? text, int length)
    {
        int head = (length + 1) / 2, tail = length - head;
        var first = new List<long>(head);
        var ring = new long[Math.Max(1, tail)];
        long seen = 0;
        foreach (string token in Tokenize(text ?? ""))
        {
            long id = ids.TryGetValue(token, out long known) ? known : UnknownId;
            if (first.Count < head) first.Add(id);
            else if (tail > 0) ring[seen++ % tail] = id;
        }
        int kept = (int)Math.Min(seen, tail);
        var encoded = new long[length];
        int start = length - first.Count - kept;
        first.CopyTo(encoded, start);
        for (int i = 0; i < kept; i++) encoded[start + first.Count + i] = ring[(seen - kept + i) % tail];
        return encoded;
    }

    /// <summary>
    /// Lower-cased runs of letters and digits, each cut to 40 characters, skipping runs that hold a digit
    /// (dates, addresses, message ids: noise that would fill the fixed window). Read lazily, so a huge text
    /// costs only what is used.
    /// </summary>
    public static IEnumerable<string> Tokenize(string text)
    {
        var token = new StringBuilder();
        bool digit = false;
        foreach (char c in text)
        {
            if (char.IsLetterOrDigit(c))
            {
                digit |= char.IsDigit(c);
                if (token.Length < MaxTokenLength) token.Append(char.ToLower(c, CultureInfo.InvariantCulture));
            }
            else if (token.Length > 0)
            {
                if (!digit) yield return token.ToString();
                token.Clear();
                digit = false;
            }
        }
        if (token.Length > 0 && !digit) yield return token.ToString();
    }
}
