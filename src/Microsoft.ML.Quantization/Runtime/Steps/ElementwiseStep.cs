using System.Numerics.Tensors;

namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>A float function applied element by element (ReLU, PReLU, BCPReLU, sigmoid, tanh, a per-channel affine BatchNorm or normalisation).</summary>
internal sealed class ElementwiseStep : ScoringStep
{
    private readonly ValueSlot input;
    private readonly Action<float[], float[]> apply;

    private ElementwiseStep(string name, ValueSlot input, ValueSlot output, Action<float[], float[]> apply) : base(name, output)
    {
        this.input = input;
        this.apply = apply;
    }

    public override void Run(Workspace ws) => apply(ws.Floats(input), ws.Floats(Output));

    public static ElementwiseStep ReLU(string name, ValueSlot input, ValueSlot output) =>
        new(name, input, output, (x, y) => TensorPrimitives.Max(x, 0f, y)); // IEEE maximum, as Math.Max: NaN stays NaN, −0 becomes +0

    public static ElementwiseStep Sigmoid(string name, ValueSlot input, ValueSlot output) =>
        new(name, input, output, (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = 1f / (1f + MathF.Exp(-x[i])); });

    public static ElementwiseStep Tanh(string name, ValueSlot input, ValueSlot output) =>
        new(name, input, output, (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = MathF.Tanh(x[i]); });

    /// <summary>(x − mean[c]) / std[c] over channels of <paramref name="perChannel"/> values each, in the training forward's order.</summary>
    public static ElementwiseStep Normalize(string name, ValueSlot input, ValueSlot output, float[] mean, float[] std, int perChannel) =>
        new(name, input, output, (x, y) =>
        {
            for (int i = 0; i < x.Length; i++) y[i] = (x[i] - mean[i / perChannel]) / std[i / perChannel];
        });

    /// <summary>max(x,0) + a[c]·min(x,0), with one slope shared or one per channel of <paramref name="perChannel"/> values.</summary>
    public static ElementwiseStep PReLU(string name, ValueSlot input, ValueSlot output, float[] slopes, int perChannel) =>
        new(name, input, output, (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = x[i] >= 0 ? x[i] : slopes[i / perChannel] * x[i]; });

    /// <summary>
    /// min(max(x,0), α_u) + max(min(kx,0), −α_l) in the training forward's order, then the optional output
    /// grid (<paramref name="grid"/>, uniform over [−α_l, α_u]).
    /// </summary>
    public static ElementwiseStep BCPReLU(string name, ValueSlot input, ValueSlot output, float slope, float lower, float upper, ActivationCodec? grid) =>
        new(name, input, output, (x, y) =>
        {
            for (int i = 0; i < x.Length; i++)
            {
                float v = Math.Min(Math.Max(x[i], 0f), upper) + Math.Max(Math.Min(x[i] * slope, 0f), -lower);
                y[i] = grid is null ? v : grid.Value(grid.Encode(v));
            }
        });

    /// <summary>y = x·scale[c] + shift[c] over channels of <paramref name="perChannel"/> values each.</summary>
    public static ElementwiseStep Affine(string name, ValueSlot input, ValueSlot output, float[] scale, float[] shift, int perChannel) =>
        new(name, input, output, (x, y) =>
        {
            // Multiply, then add, each rounded (not fused), as the training forward's two operations are.
            for (int c = 0; c < scale.Length; c++)
            {
                var plane = y.AsSpan(c * perChannel, perChannel);
                TensorPrimitives.Multiply(x.AsSpan(c * perChannel, perChannel), scale[c], plane);
                TensorPrimitives.Add(plane, shift[c], plane);
            }
        });

    /// <summary>Element-wise sum of two slots (residual connection).</summary>
    public static ScoringStep Add(string name, ValueSlot left, ValueSlot right, ValueSlot output) => new AddStep(name, left, right, output);

    private sealed class AddStep : ScoringStep
    {
        private readonly ValueSlot left, right;

        public AddStep(string name, ValueSlot left, ValueSlot right, ValueSlot output) : base(name, output)
        {
            this.left = left;
            this.right = right;
        }

        public override void Run(Workspace ws)
        {
            var a = ws.Floats(left);
            var b = ws.Floats(right);
            var y = ws.Floats(Output);
            if (left.Layout == right.Layout && Output.Layout == left.Layout)
            {
                TensorPrimitives.Add(a, b, y);
                return;
            }
            // A channels-last operand (a residual block's output whose add no epilogue took) value by value into the CHW output.
            int channels = Output.Shape[0], plane = Output.Length / channels;
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < plane; p++) y[c * plane + p] = a[left.FloatIndex(c, p)] + b[right.FloatIndex(c, p)];
        }
    }
}
