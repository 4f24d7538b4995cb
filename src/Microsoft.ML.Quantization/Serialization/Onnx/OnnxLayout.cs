namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>
/// Flatten, Reshape, Squeeze, Unsqueeze and Transpose of a network value: they change how each example's elements are
/// laid out in ONNX, never their order, so no graph node is needed. A layout that would move elements (or mix
/// the batch with an example) is refused.
/// </summary>
internal static class OnnxLayout
{
    /// <summary>The value <paramref name="x"/> seen through the layout node <paramref name="node"/>.</summary>
    public static OnnxSymbol View(OnnxNode node, OnnxSymbol x, IReadOnlyList<OnnxValue?> inputs)
    {
        var dims = x.FullDims();
        long[] result;
        switch (node.Op)
        {
            case "Flatten":
            {
                node.Allow("axis");
                long axis = node.Int("axis", 1);
                if (axis < 0) axis += dims.Length;
                if (axis <= x.BatchAxis || axis > dims.Length) throw node.Unsupported($"flattens at axis {axis}, which folds the batch into the examples.");
                result = new[] { OnnxConstant.BatchDim, dims.Skip((int)axis).Aggregate(1L, (a, b) => a * b) };
                InOrder(node, dims, result);
                break;
            }
            case "Reshape":
            {
                node.Allow("allowzero");
                var target = inputs.Count > 1 && inputs[1] is OnnxConstant c ? c : throw node.Unsupported("takes its target shape from the network.");
                result = OnnxConstantFolding.ReshapeDims(node, dims, target.Longs());
                InOrder(node, dims, result);
                break;
            }
            case "Squeeze" or "Unsqueeze":
                result = OnnxConstantFolding.SqueezeDims(node, dims, OnnxConstantFolding.Axes(node, inputs));
                break;
            case "Transpose":
            {
                node.Allow("perm");
                var perm = node.Ints("perm") ?? Enumerable.Range(0, dims.Length).Reverse().Select(i => (long)i).ToArray();
                if (perm.Length != dims.Length || perm.Distinct().Count() != perm.Length || perm.Any(p => p < 0 || p >= dims.Length))
                    throw node.Invalid($"has a permutation [{string.Join(",", perm)}] for rank {dims.Length}.");
                // Only the batch and size-1 axes may move: the example's other axes keep their order.
                var moved = perm.Where(p => dims[p] != 1 && dims[p] != OnnxConstant.BatchDim).ToArray();
                if (!moved.SequenceEqual(moved.Order())) throw node.Unsupported($"permutes an example's axes ([{string.Join(",", perm)}]); MLQuant imports transposes that only move the batch.");
                result = perm.Select(p => dims[p]).ToArray();
                break;
            }
            default:
                throw node.Unsupported("is not a layout operator.");
        }
        int batch = Array.IndexOf(result, OnnxConstant.BatchDim);
        return x.Viewed(result.Where(d => d != OnnxConstant.BatchDim).Select(d => checked((int)d)).ToArray(), batch);
    }

    /// <summary>A reshape keeps each example's elements in order only if, before and after, nothing but size-1 axes precede the batch.</summary>
    private static void InOrder(OnnxNode node, long[] before, long[] after)
    {
        static bool Leading(long[] dims) => dims.TakeWhile(d => d != OnnxConstant.BatchDim).All(d => d == 1);
        if (!Leading(before) || !Leading(after)) throw node.Unsupported("reshapes a value whose batch is not its leading axis, which would mix examples.");
    }
}
