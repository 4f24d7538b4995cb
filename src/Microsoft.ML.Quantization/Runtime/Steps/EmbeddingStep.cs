using Microsoft.ML.Quantization.Serialization;

namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>Token ids [T] (held as floats) to rows of the table [T,D], decoded from the packed codes on lookup.</summary>
internal sealed class EmbeddingStep : ScoringStep
{
    private readonly ValueSlot input;
    private readonly ExportedTensor table;
    private readonly int rows, width;

    public EmbeddingStep(string name, ValueSlot input, ValueSlot output, ExportedTensor table) : base(name, output)
    {
        this.input = input;
        this.table = table;
        rows = table.Shape[0];
        width = table.Shape[1];
    }

    public override string Kernel => table.Quantized is null ? "float lookup" : $"{table.Quantized.Grid.Bits}-bit code lookup";

    public override long WeightBytes => table.Quantized is { } q ? Serialization.CodePacking.PackedLength(q.Codes.Length, q.Grid.Bits) : table.Count * 4L;

    public override void Run(Workspace ws)
    {
        var ids = ws.Floats(input);
        var y = ws.Floats(Output);
        var q = table.Quantized;
        int levels = q?.Grid.LevelCount ?? 0, perGroup = q is null ? 0 : q.Codes.Length / q.Grid.GroupCount;
        for (int t = 0; t < ids.Length; t++)
        {
            int row = Row(Name, ids[t], rows);
            for (int d = 0; d < width; d++)
            {
                int i = row * width + d;
                if (q is null) y[t * width + d] = table.Values![i];
                else
                {
                    int g = i / perGroup;
                    y[t * width + d] = q.Grid.Levels[g * levels + q.Codes[i]] * q.Grid.Scales[g];
                }
            }
        }
    }

    /// <summary>The table row of token <paramref name="id"/>: a whole number in [0, <paramref name="rows"/>), else an error naming embedding <paramref name="name"/>.</summary>
    public static int Row(string name, float id, int rows) =>
        id >= 0 && id < rows && id == MathF.Floor(id) ? (int)id : throw new ArgumentOutOfRangeException("ws", id, $"Embedding '{name}' has ids 0 to {rows - 1}.");
}
