namespace Microsoft.ML.Quantization.Kernels;

/// <summary>
/// Scalar reference products that every optimized kernel must match bit for bit:
/// C[p·O + o] = Σ_k W[o·K + k] · X[p·ldx + k].
/// </summary>
internal static class GemmReference
{
    /// <summary>Integer product with exact int32 accumulation.</summary>
    public static void Multiply(ReadOnlySpan<int> w, int outputs, int depth, ReadOnlySpan<int> x, int ldx, int positions, Span<int> c)
    {
        for (int p = 0; p < positions; p++)
        {
            var row = x.Slice(p * ldx, depth);
            for (int o = 0; o < outputs; o++)
            {
                var weights = w.Slice(o * depth, depth);
                int sum = 0;
                for (int k = 0; k < depth; k++) sum += weights[k] * row[k];
                c[p * outputs + o] = sum;
            }
        }
    }

    /// <summary>Float product accumulated in k order with fused multiply-adds (the order the vector kernel uses per lane).</summary>
    public static void Multiply(ReadOnlySpan<float> w, int outputs, int depth, ReadOnlySpan<float> x, int ldx, int positions, Span<float> c)
    {
        for (int p = 0; p < positions; p++)
        {
            var row = x.Slice(p * ldx, depth);
            for (int o = 0; o < outputs; o++)
            {
                var weights = w.Slice(o * depth, depth);
                float sum = 0;
                for (int k = 0; k < depth; k++) sum = MathF.FusedMultiplyAdd(row[k], weights[k], sum);
                c[p * outputs + o] = sum;
            }
        }
    }
}
