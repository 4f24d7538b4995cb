namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>
/// A single-layer LSTM over [T,D] returning the last hidden state [H], as the training layer computes it:
/// the input products for all steps at once (with the bias), then per step the recurrent product of the
/// quantized state (integer kernels when the grids allow) and the gates in float (PyTorch's i, f, g, o order).
/// </summary>
internal sealed class LstmStep : ScoringStep
{
    private readonly ValueSlot gatesIn, recurrent, cell, stateCodes;
    private readonly ProductStep inputProduct, recurrentProduct;
    private readonly ActivationCodec? stateCodec;
    private readonly int hidden, steps;

    public LstmStep(string name, ValueSlot input, ValueSlot output, ProductStep inputProduct, ProductStep recurrentProduct,
        ValueSlot gatesIn, ValueSlot recurrent, ValueSlot cell, ValueSlot stateCodes, ActivationCodec? stateCodec) : base(name, output)
    {
        this.inputProduct = inputProduct;
        this.recurrentProduct = recurrentProduct;
        this.gatesIn = gatesIn;
        this.recurrent = recurrent;
        this.cell = cell;
        this.stateCodes = stateCodes;
        this.stateCodec = stateCodec;
        hidden = output.Shape[0];
        steps = input.Shape[0];
    }

    public override string Kernel => $"{inputProduct.Kernel} / {recurrentProduct.Kernel}";

    public override long WeightBytes => inputProduct.WeightBytes + recurrentProduct.WeightBytes;

    public override void Run(Workspace ws)
    {
        inputProduct.Run(ws); // gatesIn [4H, T]
        var gx = ws.Floats(gatesIn);
        var gh = ws.Floats(recurrent);
        var h = ws.Floats(Output); // the hidden state is the step's output
        var c = ws.Floats(cell);
        Array.Clear(h);
        Array.Clear(c);
        for (int t = 0; t < steps; t++)
        {
            if (stateCodec is null) h.CopyTo(ws.Floats(stateCodes), 0);
            else if (stateCodes.IsInteger)
            {
                var codes = ws.Shorts(stateCodes);
                for (int j = 0; j < hidden; j++) codes[j] = (short)stateCodec.Integers![stateCodec.Encode(h[j])];
            }
            else
            {
                var values = ws.Floats(stateCodes);
                for (int j = 0; j < hidden; j++) values[j] = stateCodec.Value(stateCodec.Encode(h[j]));
            }
            recurrentProduct.Run(ws); // gh [4H]
            for (int j = 0; j < hidden; j++)
            {
                float i = gx[j * steps + t] + gh[j];
                float f = gx[(hidden + j) * steps + t] + gh[hidden + j];
                float g = gx[(2 * hidden + j) * steps + t] + gh[2 * hidden + j];
                float o = gx[(3 * hidden + j) * steps + t] + gh[3 * hidden + j];
                c[j] = Sigmoid(f) * c[j] + Sigmoid(i) * MathF.Tanh(g);
                h[j] = Sigmoid(o) * MathF.Tanh(c[j]);
            }
        }
    }

    private static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));
}
