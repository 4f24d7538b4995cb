using System.Security.Cryptography;
using System.Text;

namespace Microsoft.ML.Quantization.Serialization;

/// <summary>
/// MLQuant's own payload format, stored inside an ML.NET model: a magic number, a format version, the kind
/// of component, the body and a SHA-256 of everything before it.
/// <code>
///   "MLQP" | u16 format version | u8 kind length | kind (ASCII) | i32 body length | body | SHA-256 (32 bytes)
/// </code>
/// Version history: 1 — graph and TorchSharp state; 2 — the exported model (packed codes, frozen activation grids).
/// </summary>
internal static class PayloadContainer
{
    /// <summary>The format version written by this code.</summary>
    public const ushort CurrentVersion = 2;

    /// <summary>Largest body accepted (1 GiB), checked before allocating.</summary>
    public const int MaxBodyLength = 1 << 30;

    private static ReadOnlySpan<byte> Magic => "MLQP"u8;
    private const int HashLength = 32;

    /// <summary>Wraps <paramref name="body"/>, written in format <paramref name="version"/>, in the container.</summary>
    public static byte[] Wrap(string kind, ReadOnlySpan<byte> body, ushort version = CurrentVersion)
    {
        if (version is 0 or > CurrentVersion) throw new ArgumentOutOfRangeException(nameof(version), version, $"Format versions are 1 to {CurrentVersion}.");
        byte[] kindBytes = Encoding.ASCII.GetBytes(kind);
        if (kindBytes.Length is 0 or > 255) throw new ArgumentException("The kind must be 1 to 255 ASCII characters.", nameof(kind));
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(version);
            writer.Write((byte)kindBytes.Length);
            writer.Write(kindBytes);
            writer.Write(body.Length);
            writer.Write(body);
        }
        byte[] hash = SHA256.HashData(stream.GetBuffer().AsSpan(0, (int)stream.Length));
        stream.Write(hash);
        return stream.ToArray();
    }

    /// <summary>Checks the container and returns its kind, format version and body.</summary>
    /// <exception cref="InvalidDataException">The bytes are not a complete, intact container of a known version.</exception>
    public static (string Kind, ushort Version, byte[] Body) Unwrap(ReadOnlySpan<byte> container)
    {
        const int fixedLength = 4 + 2 + 1 + 4 + HashLength;
        if (container.Length < fixedLength) throw new InvalidDataException($"The MLQuant payload is {container.Length} bytes, shorter than any valid payload.");
        if (!container[..4].SequenceEqual(Magic)) throw new InvalidDataException("The MLQuant payload does not start with its magic number 'MLQP'.");
        byte[] expected = SHA256.HashData(container[..^HashLength]);
        if (!container[^HashLength..].SequenceEqual(expected))
            throw new InvalidDataException("The MLQuant payload's checksum does not match: the model file is corrupted.");

        ushort version = BitConverter.ToUInt16(container[4..6]);
        if (version is 0 or > CurrentVersion)
            throw new InvalidDataException($"The MLQuant payload has format version {version}; this library reads versions 1 to {CurrentVersion}.");
        int kindLength = container[6];
        if (kindLength == 0 || 7 + kindLength + 4 > container.Length - HashLength)
            throw new InvalidDataException($"The MLQuant payload's kind length {kindLength} does not fit the payload.");
        string kind = Encoding.ASCII.GetString(container.Slice(7, kindLength));
        int bodyLength = BitConverter.ToInt32(container.Slice(7 + kindLength, 4));
        int bodyStart = 7 + kindLength + 4;
        if (bodyLength < 0 || bodyLength > MaxBodyLength || bodyStart + bodyLength != container.Length - HashLength)
            throw new InvalidDataException($"The MLQuant payload's body length {bodyLength} does not match the payload's size.");
        return (kind, version, container.Slice(bodyStart, bodyLength).ToArray());
    }
}
