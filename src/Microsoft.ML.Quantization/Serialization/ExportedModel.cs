using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
namespace Microsoft.ML.Quantization.Serialization;

/// <summary>
/// One named tensor of an exported network: float values, or the integer codes and grid of a quantized
/// weight (never both).
/// </summary>
internal sealed class ExportedTensor
{
    private ExportedTensor(int[] shape, float[]? values, QuantizedTensor? quantized)
    {
        Shape = shape;
        Values = values;
        Quantized = quantized;
    }

    /// <summary>The tensor's shape.</summary>
    public int[] Shape { get; }

    /// <summary>Float values (row-major), or null for a quantized tensor.</summary>
    public float[]? Values { get; }

    /// <summary>Codes and grid, or null for a float tensor.</summary>
    public QuantizedTensor? Quantized { get; }

    /// <summary>A float tensor.</summary>
    public static ExportedTensor Float(int[] shape, float[] values)
    {
        long count = shape.Aggregate(1L, (n, d) => n * d);
        if (count != values.Length) throw new ArgumentException($"Shape holds {count} values, the array {values.Length}.", nameof(values));
        return new ExportedTensor(shape, values, null);
    }

    /// <summary>A quantized tensor.</summary>
    public static ExportedTensor Codes(QuantizedTensor quantized) => new(quantized.Shape, null, quantized);

    /// <summary>The values: the floats, or the decoded codes.</summary>
    public float[] Decode() => Values ?? Quantized!.Decode();

    /// <summary>Number of elements.</summary>
    public int Count => Values?.Length ?? Quantized!.Codes.Length;

    /// <summary>
    /// A convolution weight [O, C, k, k] with each row's columns in (ky, kx, channel) order, as [O, k, k, C], for rows gathered with
    /// the channels interleaved (<see cref="Runtime.Steps.ConvolutionWindow"/>); null for a quantized tensor whose grid groups are
    /// not whole rows.
    /// </summary>
    public ExportedTensor? KernelChannelsLast()
    {
        if (Shape is not [var outputs, var channels, var kernel, var width] || width != kernel) throw new InvalidOperationException($"Not a square convolution weight: [{string.Join(", ", Shape)}].");
        var q = Quantized;
        if (q is not null && outputs % q.Grid.GroupCount != 0) return null;
        int area = kernel * kernel, depth = channels * area;
        var shape = new[] { outputs, kernel, kernel, channels };
        T[] Permute<T>(T[] source)
        {
            var target = new T[source.Length];
            for (int o = 0; o < outputs; o++)
                for (int c = 0; c < channels; c++)
                    for (int i = 0; i < area; i++) target[o * depth + i * channels + c] = source[o * depth + c * area + i];
            return target;
        }
        return q is null ? Float(shape, Permute(Values!)) : Codes(new QuantizedTensor(q.Scheme, shape, q.Grid, Permute(q.Codes)));
    }

    /// <summary>
    /// Rows <paramref name="start"/> … start + count − 1 along dimension 0 (one group of a grouped convolution's weight), with
    /// their part of a per-row grid; null for a quantized tensor whose grid groups are neither one nor one per row.
    /// </summary>
    public ExportedTensor? Rows(int start, int count)
    {
        int perRow = Count / Shape[0];
        var shape = Shape.Skip(1).Prepend(count).ToArray();
        if (Values is not null) return Float(shape, Values.AsSpan(start * perRow, count * perRow).ToArray());
        var q = Quantized!;
        var grid = q.Grid;
        var codes = q.Codes.AsSpan(start * perRow, count * perRow).ToArray();
        if (grid.GroupCount == 1) return Codes(new QuantizedTensor(q.Scheme, shape, grid, codes));
        if (grid.GroupCount != Shape[0]) return null;
        int levels = grid.LevelCount;
        var part = new QuantizationGrid(grid.Bits, grid.Scales.AsSpan(start, count).ToArray(), grid.Levels.AsSpan(start * levels, count * levels).ToArray(),
            grid.Thresholds.AsSpan(start * (levels - 1), count * (levels - 1)).ToArray(), grid.CodeOrder?.AsSpan(start * levels, count * levels).ToArray());
        return Codes(new QuantizedTensor(q.Scheme, shape, part, codes));
    }
}

/// <summary>
/// A trained network in the form the scoring runtime executes: the graph, its tensors by TorchSharp
/// state name (see <see cref="StateNames"/>), quantized weights as codes, and the frozen activation grids.
/// No torch type: the runtime, persistence and the ONNX export read it.
/// </summary>
internal sealed class ExportedModel
{
    /// <summary>Creates the model and checks that the graph's parameterised nodes have their tensors.</summary>
    public ExportedModel(NetworkGraph graph, IReadOnlyDictionary<string, ExportedTensor> tensors)
    {
        Graph = graph;
        Tensors = tensors;
        foreach (var node in graph.Nodes)
        {
            foreach (string name in StateNames.Required(node))
            {
                if (!tensors.ContainsKey(name)) throw new InvalidDataException($"The exported model lacks tensor '{name}' of node '{node.Name}'.");
            }
        }
    }

    /// <summary>The network graph.</summary>
    public NetworkGraph Graph { get; }

    /// <summary>Tensors by state name.</summary>
    public IReadOnlyDictionary<string, ExportedTensor> Tensors { get; }

    /// <summary>The tensor called <paramref name="name"/>.</summary>
    public ExportedTensor this[string name] =>
        Tensors.TryGetValue(name, out var t) ? t : throw new InvalidDataException($"The exported model lacks tensor '{name}'.");

    /// <summary>Whether the model holds <paramref name="name"/>.</summary>
    public bool Has(string name) => Tensors.ContainsKey(name);

    /// <summary>The per-tensor grid stored under <paramref name="prefix"/> (see <see cref="StateNames.GridTensors"/>), or null if absent.</summary>
    public QuantizationGrid? Grid(string prefix)
    {
        if (!Has(StateNames.Grid(prefix, "scales"))) return null;
        float[] Read(string t) => this[StateNames.Grid(prefix, t)].Decode();
        var order = Read("code_order");
        foreach (float c in order)
        {
            if (!(c >= 0 && c < order.Length && c == MathF.Floor(c))) throw new InvalidDataException($"The code order of '{prefix}' holds {c}.");
        }
        int bits = Math.Max(1, (int)Math.Ceiling(Math.Log2(Math.Max(2, order.Length))));
        try
        {
            return new QuantizationGrid(bits, Read("scales"), Read("levels"), Read("thresholds"), order.Select(c => (int)c).ToArray());
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"The grid of '{prefix}' is invalid: {e.Message}", e);
        }
    }
}
