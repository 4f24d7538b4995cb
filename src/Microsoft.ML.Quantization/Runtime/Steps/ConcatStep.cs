namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>Joins float slots along their first dimension (channels of [C,H,W], or features): channel-major storage makes each input one block.</summary>
internal sealed class ConcatStep : ScoringStep
{
    private readonly ValueSlot[] inputs;

    public ConcatStep(string name, ValueSlot[] inputs, ValueSlot output) : base(name, output) => this.inputs = inputs;

    public override void Run(Workspace ws)
    {
        var y = ws.Floats(Output);
        int offset = 0;
        foreach (var input in inputs)
        {
            Array.Copy(ws.Floats(input), 0, y, offset, input.Length);
            offset += input.Length;
        }
    }
}
