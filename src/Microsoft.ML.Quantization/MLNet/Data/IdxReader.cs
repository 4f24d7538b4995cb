using System.Buffers.Binary;

namespace Microsoft.ML.Quantization.MLNet.Data;

/// <summary>Reads IDX files (the MNIST format): a big-endian header, then unsigned bytes.</summary>
internal static class IdxReader
{
    private const int UnsignedByteImages = 0x00000803;
    private const int UnsignedByteLabels = 0x00000801;

    /// <summary>Images as [count][rows·columns] bytes, with their height and width.</summary>
    public static (byte[][] Images, int Height, int Width) ReadImages(string path)
    {
        using var stream = CompressedFile.Open(path);
        Span<byte> header = stackalloc byte[16];
        CompressedFile.ReadExactly(stream, header, path, "16-byte header");
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != UnsignedByteImages) throw new InvalidDataException($"'{path}' is not an IDX image file: magic 0x{magic:x8}, expected 0x{UnsignedByteImages:x8}.");
        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        int height = BinaryPrimitives.ReadInt32BigEndian(header[8..]);
        int width = BinaryPrimitives.ReadInt32BigEndian(header[12..]);
        if (count < 0 || height is < 1 or > 4096 || width is < 1 or > 4096)
            throw new InvalidDataException($"'{path}' declares {count} images of {height}×{width}: out of range.");
        var images = new byte[count][];
        for (int i = 0; i < count; i++)
        {
            images[i] = new byte[height * width];
            CompressedFile.ReadExactly(stream, images[i], path, $"image {i} of {count}");
        }
        return (images, height, width);
    }

    /// <summary>Labels, one byte each.</summary>
    public static byte[] ReadLabels(string path)
    {
        using var stream = CompressedFile.Open(path);
        Span<byte> header = stackalloc byte[8];
        CompressedFile.ReadExactly(stream, header, path, "8-byte header");
        int magic = BinaryPrimitives.ReadInt32BigEndian(header);
        if (magic != UnsignedByteLabels) throw new InvalidDataException($"'{path}' is not an IDX label file: magic 0x{magic:x8}, expected 0x{UnsignedByteLabels:x8}.");
        int count = BinaryPrimitives.ReadInt32BigEndian(header[4..]);
        if (count < 0 || count > 100_000_000) throw new InvalidDataException($"'{path}' declares {count} labels: out of range.");
        var labels = new byte[count];
        CompressedFile.ReadExactly(stream, labels, path, $"{count} labels");
        return labels;
    }
}
