using System.Text;

namespace Microsoft.ML.Quantization.MLNet.Data;

/// <summary>Reads a two-column TSV (label, tab, text), plain or gzip.</summary>
internal static class LabeledTextReader
{
    public static List<(string Label, string Text)> Read(string path)
    {
        using var stream = CompressedFile.Open(path);
        using var reader = new StreamReader(stream, new UTF8Encoding(false, throwOnInvalidBytes: true));
        var rows = new List<(string, string)>();
        int lineNumber = 0;
        try
        {
            for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
            {
                lineNumber++;
                if (line.Length == 0) continue;
                int tab = line.IndexOf('\t');
                if (tab <= 0) throw new InvalidDataException($"'{path}' line {lineNumber}: expected 'label<TAB>text'.");
                rows.Add((line[..tab], line[(tab + 1)..]));
            }
        }
        catch (DecoderFallbackException e)
        {
            throw new InvalidDataException($"'{path}' line {lineNumber + 1}: not valid UTF-8.", e);
        }
        catch (InvalidDataException e) when (!e.Message.StartsWith($"'{path}'", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"'{path}' is not valid gzip data ({e.Message}).", e);
        }
        if (rows.Count == 0) throw new InvalidDataException($"'{path}' holds no rows.");
        return rows;
    }
}
