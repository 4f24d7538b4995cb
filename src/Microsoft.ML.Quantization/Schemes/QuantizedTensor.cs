namespace Microsoft.ML.Quantization.Schemes;

/// <summary>
/// The export record of every scheme: one code per element (row-major, group-major along dimension 0)
/// and the <see cref="QuantizationGrid"/> that decodes them. Packing codes into bits is the kernels' job.
/// </summary>
internal sealed class QuantizedTensor
{
    /// <summary>Creates the record and checks that the codes fit the shape and the grid.</summary>
    public QuantizedTensor(QuantizationScheme scheme, int[] shape, QuantizationGrid grid, byte[] codes)
    {
        long elements = shape.Aggregate(1L, (n, d) => d >= 0 ? n * d : throw new ArgumentException("Negative dimension.", nameof(shape)));
        if (codes.Length != elements) throw new ArgumentException($"Shape holds {elements} elements, codes {codes.Length}.", nameof(codes));
        if (elements % grid.GroupCount != 0) throw new ArgumentException("Elements do not divide into the grid's groups.", nameof(grid));
        int limit = grid.LevelCount;
        foreach (byte code in codes)
        {
            if (code >= limit) throw new ArgumentException($"Code {code} is outside the grid's {limit} levels.", nameof(codes));
        }
        Scheme = scheme;
        Shape = shape;
        Grid = grid;
        Codes = codes;
    }

    /// <summary>The scheme that produced the codes.</summary>
    public QuantizationScheme Scheme { get; }

    /// <summary>The tensor's shape.</summary>
    public int[] Shape { get; }

    /// <summary>Scales, levels and thresholds.</summary>
    public QuantizationGrid Grid { get; }

    /// <summary>One code per element.</summary>
    public byte[] Codes { get; }

    /// <summary>The float values the codes stand for (<see cref="ReferenceCodec.Decode"/>).</summary>
    public float[] Decode()
    {
        var values = new float[Codes.Length];
        ReferenceCodec.Decode(Codes, Grid, values);
        return values;
    }
}
