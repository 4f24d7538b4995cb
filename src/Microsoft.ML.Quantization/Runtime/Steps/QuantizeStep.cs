namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>
/// An activation quantizer: writes each value's integer level (when the grid has an integer form) or its
/// quantized float value, using the frozen grid.
/// </summary>
internal sealed class QuantizeStep : ScoringStep
{
    private readonly ValueSlot input;
    private readonly ActivationCodec codec;

    public QuantizeStep(string name, ValueSlot input, ValueSlot output) : base(name, output)
    {
        this.input = input;
        codec = output.Codec!;
    }

    public override void Run(Workspace ws)
    {
        var x = ws.Floats(input);
        if (Output.IsInteger)
        {
            var y = ws.Shorts(Output);
            var integers = codec.Integers!;
            for (int i = 0; i < x.Length; i++) y[i] = (short)integers[codec.Encode(x[i])];
        }
        else
        {
            var y = ws.Floats(Output);
            for (int i = 0; i < x.Length; i++) y[i] = codec.Value(codec.Encode(x[i]));
        }
    }
}
