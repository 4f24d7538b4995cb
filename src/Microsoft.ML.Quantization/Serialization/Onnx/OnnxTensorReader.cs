using System.Runtime.InteropServices;
using Microsoft.ML.Quantization.Serialization.Onnx.Proto;
using DataType = Microsoft.ML.Quantization.Serialization.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>Reads an ONNX tensor's values, checking its size against its dimensions and a cap before anything is allocated.</summary>
internal static class OnnxTensorReader
{
    /// <summary>The most elements one tensor may hold (a 1 GiB float tensor).</summary>
    public const long MaxElements = 1L << 28;

    /// <summary>The values of <paramref name="tensor"/>; <paramref name="where"/> names its place in errors.</summary>
    /// <exception cref="InvalidDataException">Dimensions are negative or over the cap, or the data does not fill them.</exception>
    /// <exception cref="NotSupportedException">External data, segments, or an element type other than float, double or integers.</exception>
    public static OnnxConstant Read(TensorProto tensor, string where)
    {
        if (tensor.DataLocation == TensorProto.Types.DataLocation.External || tensor.ExternalData.Count > 0)
            throw new NotSupportedException($"{where}: tensor '{tensor.Name}' keeps its data in an external file; save the model with its weights inside (onnx.save with save_as_external_data=False).");
        if (tensor.Segment is not null) throw new NotSupportedException($"{where}: tensor '{tensor.Name}' is segmented.");
        long count = Count(tensor.Dims, $"{where}: tensor '{tensor.Name}'");
        var type = (DataType)tensor.DataType;
        (int size, bool integer) = type switch
        {
            DataType.Float => (4, false),
            DataType.Double => (8, false),
            DataType.Int64 => (8, true),
            DataType.Int32 => (4, true),
            DataType.Int16 or DataType.Uint16 => (2, true),
            DataType.Int8 or DataType.Uint8 or DataType.Bool => (1, true),
            _ => throw new NotSupportedException($"{where}: tensor '{tensor.Name}' has element type {type}; MLQuant imports float, double and integer tensors."),
        };
        double[] values;
        if (!tensor.RawData.IsEmpty)
        {
            if (tensor.RawData.Length != count * size)
                throw new InvalidDataException($"{where}: tensor '{tensor.Name}' has {tensor.RawData.Length} bytes of data for {count} {type} elements.");
            values = Raw(tensor.RawData.Span, type, (int)count);
        }
        else
        {
            values = type switch
            {
                DataType.Float => tensor.FloatData.Select(v => (double)v).ToArray(),
                DataType.Double => tensor.DoubleData.ToArray(),
                DataType.Int64 => tensor.Int64Data.Select(v => (double)v).ToArray(),
                _ => tensor.Int32Data.Select(v => (double)v).ToArray(),
            };
            if (values.Length != count) throw new InvalidDataException($"{where}: tensor '{tensor.Name}' holds {values.Length} values for dimensions of {count} elements.");
        }
        return new OnnxConstant(tensor.Dims.ToArray(), values, integer);
    }

    /// <summary>The element count of <paramref name="dims"/>, refused when negative or over <see cref="MaxElements"/>.</summary>
    public static long Count(IEnumerable<long> dims, string what)
    {
        long count = 1;
        foreach (long d in dims)
        {
            if (d < 0) throw new InvalidDataException($"{what} has a negative dimension {d}.");
            count = d == 0 ? 0 : count > MaxElements / d ? MaxElements + 1 : count * d;
            if (count > MaxElements || d > MaxElements) throw new InvalidDataException($"{what} has dimensions [{string.Join(",", dims)}], over the limit of {MaxElements} elements.");
        }
        return count;
    }

    private static double[] Raw(ReadOnlySpan<byte> raw, DataType type, int count)
    {
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            values[i] = type switch
            {
                DataType.Float => MemoryMarshal.Read<float>(raw[(i * 4)..]),
                DataType.Double => MemoryMarshal.Read<double>(raw[(i * 8)..]),
                DataType.Int64 => MemoryMarshal.Read<long>(raw[(i * 8)..]),
                DataType.Int32 => MemoryMarshal.Read<int>(raw[(i * 4)..]),
                DataType.Int16 => MemoryMarshal.Read<short>(raw[(i * 2)..]),
                DataType.Uint16 => MemoryMarshal.Read<ushort>(raw[(i * 2)..]),
                DataType.Int8 => (sbyte)raw[i],
                _ => raw[i],
            };
        }
        return values;
    }
}
