using DataType = Microsoft.ML.Quantization.Serialization.Onnx.Proto.TensorProto.Types.DataType;

namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>
/// Evaluates at import time the nodes whose inputs are all known: constants, casts of initializers, and the
/// Shape → Gather → Unsqueeze → Concat → Reshape chain by which PyTorch flattens (the batch size stays symbolic).
/// </summary>
internal static class OnnxConstantFolding
{
    /// <summary>Ops this class evaluates when every input is a constant.</summary>
    public static readonly HashSet<string> Ops = new(StringComparer.Ordinal)
    {
        "Constant", "Identity", "Cast", "Unsqueeze", "Squeeze", "Concat", "Gather", "Reshape", "ConstantOfShape", "Add", "Sub", "Mul", "Div", "Transpose", "Shape", "Slice",
    };

    /// <summary>The value of <paramref name="node"/> from its constant inputs (null for an absent optional input).</summary>
    public static OnnxConstant Fold(OnnxNode node, IReadOnlyList<OnnxConstant?> inputs)
    {
        OnnxConstant In(int i) => i < inputs.Count && inputs[i] is { } c ? c : throw node.Invalid($"input {i} is missing.");
        switch (node.Op)
        {
            case "Constant":
                node.Allow("value", "value_float", "value_floats", "value_int", "value_ints");
                if (node.Tensor("value") is { } tensor) return OnnxTensorReader.Read(tensor, $"ONNX node '{node.Name}'");
                if (node.Ints("value_ints") is { } ints) return new OnnxConstant(new long[] { ints.Length }, ints.Select(v => (double)v).ToArray(), true);
                if (node.Proto.Attribute.Any(a => a.Name == "value_int")) return new OnnxConstant(Array.Empty<long>(), new double[] { node.Int("value_int", 0) }, true);
                if (node.Proto.Attribute.FirstOrDefault(a => a.Name == "value_floats") is { } floats)
                    return new OnnxConstant(new long[] { floats.Floats.Count }, floats.Floats.Select(v => (double)v).ToArray(), false);
                if (node.Proto.Attribute.Any(a => a.Name == "value_float")) return new OnnxConstant(Array.Empty<long>(), new double[] { node.Float("value_float", 0) }, false);
                throw node.Invalid("the constant has no value.");
            case "Identity":
                node.Allow();
                return In(0);
            case "Cast":
                node.Allow("to", "saturate");
                return Cast(node, In(0), (DataType)node.Int("to", 0));
            case "Unsqueeze" or "Squeeze":
            {
                var data = In(0);
                return data with { Dims = SqueezeDims(node, data.Dims, Axes(node, inputs)) };
            }
            case "Concat":
                node.Allow("axis");
                return Concat(node, inputs.Select((c, i) => In(i)).ToList(), node.Int("axis", 0));
            case "Gather":
                node.Allow("axis");
                return Gather(node, In(0), In(1), node.Int("axis", 0));
            case "Reshape":
            {
                node.Allow("allowzero");
                var data = In(0);
                return data with { Dims = ReshapeDims(node, data.Dims, In(1).Longs()) };
            }
            case "ConstantOfShape":
            {
                node.Allow("value");
                var fill = node.Tensor("value") is { } t ? OnnxTensorReader.Read(t, $"ONNX node '{node.Name}'") : new OnnxConstant(new long[] { 1 }, new double[] { 0 }, false);
                var dims = In(0).Longs().Select(d => d == long.MinValue ? OnnxConstant.BatchDim : d).ToArray();
                long count = OnnxTensorReader.Count(dims.Where(d => d != OnnxConstant.BatchDim), $"ONNX node '{node.Name}'");
                return new OnnxConstant(dims, Enumerable.Repeat(fill.Single, (int)count).ToArray(), fill.Integer);
            }
            case "Add" or "Sub" or "Mul" or "Div":
                node.Allow();
                return Arithmetic(node, In(0), In(1));
            case "Transpose":
            {
                node.Allow("perm");
                var data = In(0);
                if (data.Dims.Length != 2 || node.Ints("perm") is { } perm && !perm.SequenceEqual(new long[] { 1, 0 }))
                    throw node.Unsupported("only two-dimensional constants are transposed at import time.");
                return data.Transposed();
            }
            case "Shape":
                node.Allow("start", "end");
                return Shape(node, In(0).Dims);
            case "Slice":
                node.Allow();
                return Slice(node, In(0), In(1).Longs(), In(2).Longs(), inputs.Count > 3 ? inputs[3]?.Longs() : null, inputs.Count > 4 ? inputs[4]?.Longs() : null);
            default:
                throw node.Unsupported("is not evaluated at import time.");
        }
    }

    /// <summary>The dimensions as a shape tensor, the batch as <see cref="OnnxConstant.Batch"/>; opset 15's start and end select a range.</summary>
    public static OnnxConstant Shape(OnnxNode node, long[] dims)
    {
        int rank = dims.Length;
        int Clamp(long axis) => (int)Math.Clamp(axis < 0 ? axis + rank : axis, 0, rank);
        int start = Clamp(node.Int("start", 0)), end = Clamp(node.Int("end", rank));
        var values = dims.Skip(start).Take(Math.Max(0, end - start)).Select(d => d == OnnxConstant.BatchDim ? OnnxConstant.Batch : d).ToArray();
        return new OnnxConstant(new long[] { values.Length }, values, true);
    }

    /// <summary>
    /// The dimensions a Reshape to <paramref name="target"/> gives: 0 copies the input dimension, −1 takes the rest,
    /// <see cref="long.MinValue"/> (a folded batch size) is the batch.
    /// </summary>
    public static long[] ReshapeDims(OnnxNode node, long[] input, long[] target)
    {
        string shown = $"[{string.Join(",", target.Select(d => d == long.MinValue ? "N" : d.ToString()))}]";
        if (target.Any(d => d is < -1 and not long.MinValue) || target.Count(d => d == -1) > 1) throw node.Invalid($"the target shape {shown} is not valid.");
        var dims = target.Select((d, i) => d == long.MinValue ? OnnxConstant.BatchDim : d == 0 && i < input.Length ? input[i] : d == -1 ? long.MaxValue : d).ToArray();
        bool batchIn = input.Contains(OnnxConstant.BatchDim);
        long total = input.Where(d => d != OnnxConstant.BatchDim).Aggregate(1L, (a, b) => a * b);
        long known = dims.Where(d => d >= 0 && d != long.MaxValue).Aggregate(1L, (a, b) => a * b);
        int infer = Array.IndexOf(dims, long.MaxValue);
        if (infer >= 0)
        {
            // With the batch nowhere else, the −1 is the batch, and the rest must hold one example.
            dims[infer] = batchIn && !dims.Contains(OnnxConstant.BatchDim) ? known == total ? OnnxConstant.BatchDim : -2
                : known > 0 && total % known == 0 ? total / known : -2;
        }
        if (dims.Contains(-2) || dims.Count(d => d == OnnxConstant.BatchDim) != (batchIn ? 1 : 0) || dims.Where(d => d != OnnxConstant.BatchDim).Aggregate(1L, (a, b) => a * b) != total)
            throw node.Unsupported($"cannot reshape {OnnxConstant.Describe(input)} to {shown} without mixing the batch with an example's elements.");
        return dims;
    }

    private static OnnxConstant Cast(OnnxNode node, OnnxConstant value, DataType to)
    {
        bool integer = to switch
        {
            DataType.Float or DataType.Double or DataType.Float16 => false,
            DataType.Int64 or DataType.Int32 or DataType.Int16 or DataType.Int8 or DataType.Uint8 or DataType.Uint16 or DataType.Uint32 or DataType.Uint64 or DataType.Bool => true,
            _ => throw node.Unsupported($"casts to {to}."),
        };
        var values = value.Values.Select(v => v == OnnxConstant.Batch ? v : to switch
        {
            DataType.Float => (float)v,
            DataType.Float16 => (double)(Half)v,
            DataType.Bool => v != 0 ? 1 : 0,
            _ when integer => Math.Truncate(v),
            _ => v,
        }).ToArray();
        return new OnnxConstant(value.Dims, values, integer);
    }

    /// <summary>The dimensions after Squeeze (removing size-1 axes) or Unsqueeze (inserting them) at <paramref name="axes"/>.</summary>
    public static long[] SqueezeDims(OnnxNode node, long[] input, long[]? axes)
    {
        node.Allow("axes");
        var dims = input.ToList();
        if (node.Op == "Squeeze")
        {
            var remove = (axes ?? Enumerable.Range(0, dims.Count).Where(i => dims[i] == 1).Select(i => (long)i).ToArray()).Select(a => a < 0 ? a + dims.Count : a).Distinct().OrderDescending().ToArray();
            foreach (long a in remove)
            {
                if (a < 0 || a >= dims.Count || dims[(int)a] != 1) throw node.Invalid($"cannot squeeze axis {a} of [{string.Join(",", input)}].");
                dims.RemoveAt((int)a);
            }
            return dims.ToArray();
        }
        if (axes is null) throw node.Invalid("Unsqueeze needs axes.");
        int rank = dims.Count + axes.Length;
        foreach (long a in axes.Select(a => a < 0 ? a + rank : a).Order())
        {
            if (a < 0 || a > dims.Count) throw node.Invalid($"cannot unsqueeze axis {a}.");
            dims.Insert((int)a, 1);
        }
        return dims.ToArray();
    }

    /// <summary>The axes of a Squeeze or Unsqueeze: an attribute before opset 13, input 1 from it.</summary>
    public static long[]? Axes(OnnxNode node, IReadOnlyList<OnnxValue?> inputs) =>
        node.Opset < 13 ? node.Ints("axes")
        : inputs.Count < 2 || inputs[1] is null ? null
        : inputs[1] as OnnxConstant is { } c ? c.Longs() : throw node.Unsupported("takes its axes from the network.");

    private static OnnxConstant Gather(OnnxNode node, OnnxConstant data, OnnxConstant indices, long axis)
    {
        int rank = data.Dims.Length;
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= rank || data.Dims.Contains(OnnxConstant.BatchDim)) throw node.Invalid($"cannot gather along axis {axis} of [{string.Join(",", data.Dims)}].");
        long outer = data.Dims.Take((int)axis).Aggregate(1L, (a, b) => a * b), size = data.Dims[axis], inner = data.Dims.Skip((int)axis + 1).Aggregate(1L, (a, b) => a * b);
        var picks = indices.Longs().Select(i => i < 0 ? i + size : i).ToArray();
        if (picks.Any(i => i < 0 || i >= size)) throw node.Invalid($"an index is outside the {size} entries of axis {axis}.");
        var dims = data.Dims.Take((int)axis).Concat(indices.Dims).Concat(data.Dims.Skip((int)axis + 1)).ToArray();
        var values = new double[OnnxTensorReader.Count(dims, $"The output of ONNX node '{node.Name}'")];
        int next = 0;
        for (long o = 0; o < outer; o++)
            foreach (long p in picks)
                for (long j = 0; j < inner; j++) values[next++] = data.Values[(o * size + p) * inner + j];
        return new OnnxConstant(dims, values, data.Integer);
    }

    private static OnnxConstant Concat(OnnxNode node, List<OnnxConstant> parts, long axis)
    {
        if (parts.Count == 0) throw node.Invalid("concatenates nothing.");
        int rank = parts[0].Dims.Length;
        if (axis < 0) axis += rank;
        if (axis < 0 || axis >= rank || parts.Any(p => p.Dims.Length != rank || p.Dims.Contains(OnnxConstant.BatchDim) || p.Dims.Where((d, i) => i != axis && d != parts[0].Dims[i]).Any()))
            throw node.Invalid($"concatenates constants of shapes {string.Join(", ", parts.Select(p => $"[{string.Join(",", p.Dims)}]"))} along axis {axis}.");
        var dims = parts[0].Dims.ToArray();
        dims[axis] = parts.Sum(p => p.Dims[axis]);
        long outer = dims.Take((int)axis).Aggregate(1L, (a, b) => a * b), inner = dims.Skip((int)axis + 1).Aggregate(1L, (a, b) => a * b);
        var values = new double[OnnxTensorReader.Count(dims, $"The output of ONNX node '{node.Name}'")];
        int next = 0;
        for (long o = 0; o < outer; o++)
            foreach (var part in parts)
            {
                long block = part.Dims[axis] * inner;
                Array.Copy(part.Values, o * block, values, next, block);
                next += (int)block;
            }
        return new OnnxConstant(dims, values, parts.All(p => p.Integer));
    }

    /// <summary>ONNX Slice (opset 10 on): per axis, the entries from start towards end by step, each clamped to the axis.</summary>
    private static OnnxConstant Slice(OnnxNode node, OnnxConstant data, long[] starts, long[] ends, long[]? axes, long[]? steps)
    {
        int rank = data.Dims.Length;
        axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
        steps ??= Enumerable.Repeat(1L, starts.Length).ToArray();
        if (ends.Length != starts.Length || axes.Length != starts.Length || steps.Length != starts.Length || data.Dims.Contains(OnnxConstant.BatchDim))
            throw node.Invalid("has starts, ends, axes and steps of different lengths.");
        var picks = data.Dims.Select(d => Enumerable.Range(0, (int)d).Select(i => (long)i).ToArray()).ToArray();
        for (int k = 0; k < starts.Length; k++)
        {
            long axis = axes[k] < 0 ? axes[k] + rank : axes[k], step = steps[k];
            if (axis < 0 || axis >= rank || step == 0 || starts.Contains(long.MinValue) || ends.Contains(long.MinValue)) throw node.Invalid($"slices axis {axes[k]} by step {step}.");
            long size = data.Dims[axis];
            long Clamp(long v, long low, long high) => Math.Clamp(v < 0 ? v + size : v, low, high);
            long start = step > 0 ? Clamp(starts[k], 0, size) : Clamp(starts[k], 0, size - 1), end = step > 0 ? Clamp(ends[k], 0, size) : Clamp(ends[k], -1, size - 1);
            var taken = new List<long>();
            for (long i = start; step > 0 ? i < end : i > end; i += step) taken.Add(i);
            picks[axis] = taken.ToArray();
        }
        var dims = picks.Select(p => (long)p.Length).ToArray();
        var values = new double[OnnxTensorReader.Count(dims, $"The output of ONNX node '{node.Name}'")];
        var strides = new long[rank];
        for (int a = rank - 1, stride = 1; a >= 0; stride *= (int)data.Dims[a], a--) strides[a] = stride;
        for (int flat = 0; flat < values.Length; flat++)
        {
            long source = 0;
            for (int a = rank - 1, rest = flat; a >= 0; rest /= (int)dims[a], a--) source += picks[a][rest % dims[a]] * strides[a];
            values[flat] = data.Values[source];
        }
        return new OnnxConstant(dims, values, data.Integer);
    }

    private static OnnxConstant Arithmetic(OnnxNode node, OnnxConstant a, OnnxConstant b)
    {
        if (a.Values.Contains(OnnxConstant.Batch) || b.Values.Contains(OnnxConstant.Batch) || a.Dims.Contains(OnnxConstant.BatchDim) || b.Dims.Contains(OnnxConstant.BatchDim))
            throw node.Unsupported("computes with the batch size.");
        if (a.Values.Length == 0 || b.Values.Length == 0) throw node.Unsupported("computes with an empty constant.");
        bool scalarA = a.Values.Length == 1, scalarB = b.Values.Length == 1;
        if (!scalarA && !scalarB && !a.Dims.SequenceEqual(b.Dims)) throw node.Unsupported("broadcasts constants of different shapes.");
        var dims = scalarB ? a.Dims.Length >= b.Dims.Length ? a.Dims : b.Dims : scalarA && a.Dims.Length > b.Dims.Length ? a.Dims : b.Dims;
        int count = Math.Max(a.Values.Length, b.Values.Length);
        bool integer = a.Integer && b.Integer;
        var values = new double[count];
        for (int i = 0; i < count; i++)
        {
            double x = a.Values[scalarA ? 0 : i], y = b.Values[scalarB ? 0 : i];
            values[i] = node.Op switch
            {
                "Add" => x + y,
                "Sub" => x - y,
                "Mul" => x * y,
                _ when integer => y == 0 ? throw node.Invalid("divides by zero.") : Math.Truncate(x / y),
                _ => x / y,
            };
        }
        return new OnnxConstant(dims, values, integer);
    }
}
