using System.IO.Compression;

namespace Microsoft.ML.Quantization.MLNet.Data;

/// <summary>Opens a data file, plain or gzip (recognised by its magic bytes), with a typed error if it is missing.</summary>
internal static class CompressedFile
{
    public static Stream Open(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"Data file '{path}' does not exist.", path);
        var file = File.OpenRead(path);
        Span<byte> magic = stackalloc byte[2];
        int read = file.Read(magic);
        file.Position = 0;
        return read == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(file, CompressionMode.Decompress) : file;
    }

    /// <summary>Reads exactly <paramref name="buffer"/>.Length bytes or throws naming the file.</summary>
    public static void ReadExactly(Stream stream, Span<byte> buffer, string path, string what)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"'{path}' ends before its {what}: the file is truncated.");
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"'{path}' is not valid gzip data ({e.Message}).", e);
        }
    }
}
