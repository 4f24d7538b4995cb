using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>
/// A single-layer LSTM over [T,D] returning the last hidden state [H], as the training layer computes it:
/// the input products for all steps at once (with the bias, position-major [T, 4H]), or, where the input is a quantized
/// embedding, one <see cref="TokenGates"/> row per token; then per step the recurrent
/// product of the quantized state (integer kernels when the grids allow) and the gates in float (PyTorch's i, f, g,
/// o order), 16 hidden units at a time with AVX-512. Several sequences (<see cref="RunBatch"/>) share each step's
/// recurrent product, one row per sequence, so that a batch multiplies a matrix instead of many vectors.
/// </summary>
internal sealed class LstmStep : ScoringStep
{
    private readonly ValueSlot? gatesIn; // the product's input gates; none with a token table
    private readonly ValueSlot cell;
    private readonly ProductStep? inputProduct;
    private readonly TokenGates? tokenGates;
    private readonly DenseProduct recurrentProduct;
    private readonly ActivationCodec? stateCodec;
    private readonly int hidden, steps;

    /// <summary>The step over <paramref name="input"/> [T, D]: its input gates by <paramref name="inputProduct"/> into <paramref name="gatesIn"/>, or looked up in <paramref name="tokenGates"/> (then <paramref name="input"/> holds the token ids [T]).</summary>
    public LstmStep(string name, ValueSlot input, ValueSlot output, ProductStep? inputProduct, TokenGates? tokenGates, DenseProduct recurrentProduct,
        ValueSlot? gatesIn, ValueSlot cell, ActivationCodec? stateCodec) : base(name, output)
    {
        if ((inputProduct is null) == (tokenGates is null) || (inputProduct is null) != (gatesIn is null))
            throw new ArgumentException("An LSTM takes its input gates from a product into its gates slot or from a token table, one of the two.");
        this.inputProduct = inputProduct;
        this.tokenGates = tokenGates;
        this.recurrentProduct = recurrentProduct;
        this.gatesIn = gatesIn;
        this.cell = cell;
        this.stateCodec = stateCodec;
        hidden = output.Shape[0];
        steps = input.Shape[0];
    }

    public override string Kernel => $"{inputProduct?.Kernel ?? "token gate table"} / {recurrentProduct.Kernel}";

    /// <summary>The recurrent weights and the input product's, or the token table's memory in its place.</summary>
    public override long WeightBytes => (inputProduct?.WeightBytes ?? tokenGates!.Bytes) + recurrentProduct.WeightBytes;

    public override bool BatchesExamples => true;

    public override void Run(Workspace ws) => Run(new ReadOnlySpan<Workspace>(ref ws));

    public override void RunBatch(ReadOnlySpan<Workspace> batch) => Run(batch);

    private void Run(ReadOnlySpan<Workspace> batch)
    {
        int count = batch.Length, gates = 4 * hidden, ldx = recurrentProduct.PaddedDepth;
        var scratch = batch[0];
        foreach (var ws in batch)
        {
            if (inputProduct is not null) inputProduct.Run(ws); // gatesIn [T, 4H]
            else tokenGates!.Check(ws);
            Array.Clear(ws.Floats(Output)); // the hidden state is the step's output
            Array.Clear(ws.Floats(cell));
        }
        var gh = scratch.GateFloats(count * gates); // [sequence, 4H]
        for (int t = 0; t < steps; t++)
        {
            if (tokenGates is not null && t + 1 < steps)
                foreach (var ws in batch) tokenGates.Prefetch(ws, t + 1);
            switch (recurrentProduct.Input)
            {
                case ProductInput.Bytes:
                {
                    var rows = scratch.RowBytes(count * ldx);
                    for (int e = 0; e < count; e++) EncodeState(batch[e].Floats(Output), rows.AsSpan(e * ldx, hidden), recurrentProduct.Offset);
                    recurrentProduct.Run(scratch, rows, default, default, ldx, count, gh, gates, positionMajor: true);
                    break;
                }
                case ProductInput.Shorts:
                {
                    var rows = scratch.RowShorts(count * ldx);
                    for (int e = 0; e < count; e++) stateCodec!.EncodeShorts(batch[e].Floats(Output).AsSpan(0, hidden), rows.AsSpan(e * ldx, hidden));
                    recurrentProduct.Run(scratch, default, rows, default, ldx, count, gh, gates, positionMajor: true);
                    break;
                }
                default:
                {
                    var rows = scratch.RowFloats(count * ldx);
                    for (int e = 0; e < count; e++)
                    {
                        var h = batch[e].Floats(Output);
                        for (int j = 0; j < hidden; j++) rows[e * ldx + j] = stateCodec is null ? h[j] : stateCodec.Value(stateCodec.Encode(h[j]));
                    }
                    recurrentProduct.Run(scratch, default, default, rows, ldx, count, gh, gates, positionMajor: true);
                    break;
                }
            }
            for (int e = 0; e < count; e++)
                Gates(InputGates(batch[e], t), gh.Slice(e * gates, gates), batch[e].Floats(cell), batch[e].Floats(Output));
        }
    }

    /// <summary>Position <paramref name="t"/>'s input gates [4H].</summary>
    private ReadOnlySpan<float> InputGates(Workspace ws, int t) =>
        tokenGates is not null ? tokenGates.Row(ws, t) : ws.Floats(gatesIn!).AsSpan(t * 4 * hidden, 4 * hidden);

    /// <summary>The state's integer levels plus the offset, as bytes (16 at a time where the codec is vectorised).</summary>
    private unsafe void EncodeState(float[] h, Span<byte> row, int offset)
    {
        var codec = stateCodec!;
        int j = 0;
        if (codec.IsVectorized)
            for (; j + 16 <= hidden; j += 16)
                Avx512F.ConvertToVector128Byte(codec.EncodeIntegers(Vector512.Create(h, j)) + Vector512.Create(offset)).CopyTo(row.Slice(j, 16));
        else if (codec.IsVectorized256)
            fixed (float* hp = h)
                for (; j + 16 <= hidden; j += 16) codec.EncodeBytes256(hp + j, Vector256.Create(offset)).CopyTo(row.Slice(j, 16));
        for (; j < hidden; j++) row[j] = (byte)(codec.EncodeInteger(h[j]) + offset);
    }

    /// <summary>c = σ(f)·c + σ(i)·tanh(g), h = σ(o)·tanh(c) from input gates x and recurrent gates r ([i f g o] of H each).</summary>
    private void Gates(ReadOnlySpan<float> x, ReadOnlySpan<float> r, float[] c, float[] h)
    {
        int j = 0;
        if (Avx512F.IsSupported)
        {
            for (; j + 16 <= hidden; j += 16)
            {
                var i = Vector512.Create(x.Slice(j, 16)) + Vector512.Create(r.Slice(j, 16));
                var f = Vector512.Create(x.Slice(hidden + j, 16)) + Vector512.Create(r.Slice(hidden + j, 16));
                var g = Vector512.Create(x.Slice(2 * hidden + j, 16)) + Vector512.Create(r.Slice(2 * hidden + j, 16));
                var o = Vector512.Create(x.Slice(3 * hidden + j, 16)) + Vector512.Create(r.Slice(3 * hidden + j, 16));
                var cj = GateMath.Sigmoid(f) * Vector512.Create(c, j) + GateMath.Sigmoid(i) * GateMath.Tanh(g);
                cj.CopyTo(c, j);
                (GateMath.Sigmoid(o) * GateMath.Tanh(cj)).CopyTo(h, j);
            }
        }
        else if (Vector256.IsHardwareAccelerated) // AVX2: the same operations, 8 at a time
        {
            for (; j + 8 <= hidden; j += 8)
            {
                var i = Vector256.Create(x.Slice(j, 8)) + Vector256.Create(r.Slice(j, 8));
                var f = Vector256.Create(x.Slice(hidden + j, 8)) + Vector256.Create(r.Slice(hidden + j, 8));
                var g = Vector256.Create(x.Slice(2 * hidden + j, 8)) + Vector256.Create(r.Slice(2 * hidden + j, 8));
                var o = Vector256.Create(x.Slice(3 * hidden + j, 8)) + Vector256.Create(r.Slice(3 * hidden + j, 8));
                var cj = GateMath.Sigmoid(f) * Vector256.Create(c, j) + GateMath.Sigmoid(i) * GateMath.Tanh(g);
                cj.CopyTo(c, j);
                (GateMath.Sigmoid(o) * GateMath.Tanh(cj)).CopyTo(h, j);
            }
        }
        for (; j < hidden; j++)
        {
            float i = x[j] + r[j], f = x[hidden + j] + r[hidden + j], g = x[2 * hidden + j] + r[2 * hidden + j], o = x[3 * hidden + j] + r[3 * hidden + j];
            c[j] = GateMath.Sigmoid(f) * c[j] + GateMath.Sigmoid(i) * GateMath.Tanh(g);
            h[j] = GateMath.Sigmoid(o) * GateMath.Tanh(c[j]);
        }
    }
}
