namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>What an ONNX tensor name stands for during import: a value known at import time, or a network value.</summary>
internal abstract record OnnxValue;

/// <summary>
/// A tensor known at import time (an initializer, a Constant, or a folded shape computation). A shape taken from a
/// network value holds <see cref="Batch"/> where the batch size goes; a dimension of <see cref="Dims"/> may be
/// <see cref="BatchDim"/>, and then <see cref="Values"/> holds one batch entry (ConstantOfShape of such a shape).
/// </summary>
internal sealed record OnnxConstant(long[] Dims, double[] Values, bool Integer) : OnnxValue
{
    /// <summary>The batch size, unknown at import time, as a value of a shape tensor.</summary>
    public const double Batch = double.NegativeInfinity;

    /// <summary>The batch size as a dimension.</summary>
    public const long BatchDim = -1;

    /// <summary>Number of elements (one batch entry if a dimension is the batch).</summary>
    public long Count => Dims.Where(d => d != BatchDim).Aggregate(1L, (a, b) => a * b);

    /// <summary>The values as floats.</summary>
    public float[] Floats() => Array.ConvertAll(Values, v => (float)v);

    /// <summary>The values as integers (a batch entry stays <see cref="long.MinValue"/>).</summary>
    public long[] Longs() => Array.ConvertAll(Values, v => v == Batch ? long.MinValue : (long)v);

    /// <summary>Dimensions as an error shows them, the batch as N.</summary>
    public static string Describe(IEnumerable<long> dims) => $"[{string.Join(",", dims.Select(d => d == BatchDim ? "N" : d.ToString()))}]";

    /// <summary>The one value of a scalar or single-element tensor.</summary>
    public double Single => Values.Length == 1 ? Values[0] : throw new NotSupportedException($"expected one value, found {Values.Length}");

    /// <summary>A matrix [R,C] as [C,R].</summary>
    public OnnxConstant Transposed()
    {
        int rows = (int)Dims[0], columns = (int)Dims[1];
        var values = new double[Values.Length];
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < columns; k++) values[k * rows + r] = Values[r * columns + k];
        return this with { Dims = new long[] { columns, rows }, Values = values };
    }
}

/// <summary>
/// A value the network computes: the output of graph node <see cref="Node"/> (or the graph input), whose ONNX
/// dimensions are <see cref="Shape"/> for one example with the batch at <see cref="BatchAxis"/>. The graph node's own
/// shape may differ only by dimensions of size one (GlobalAveragePool's [C,1,1] is the node's [C]).
/// <see cref="Direct"/> says the value is that node's output as it left the node, so a following constant Add or
/// Mul may fold into the node.
/// </summary>
internal sealed record OnnxSymbol(string Node, int[] Shape, int BatchAxis, bool Integer, bool Direct) : OnnxValue
{
    /// <summary>The ONNX dimensions with the batch as -1.</summary>
    public long[] FullDims() => Shape.Select(d => (long)d).Take(BatchAxis).Append(OnnxConstant.BatchDim).Concat(Shape.Skip(BatchAxis).Select(d => (long)d)).ToArray();

    /// <summary>The ONNX dimensions as an error shows them, the batch as N: "[N,3,8,8]".</summary>
    public string Describe() => OnnxConstant.Describe(FullDims());

    /// <summary>The same network value seen through a layout change that keeps each example's elements in order.</summary>
    public OnnxSymbol Viewed(int[] shape, int batchAxis) => this with { Shape = shape, BatchAxis = batchAxis, Direct = false };
}
