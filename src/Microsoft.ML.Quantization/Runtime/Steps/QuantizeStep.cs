using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>
/// An activation quantizer with its frozen grid. It writes each value's integer level (when the grid has an
/// integer form), its quantized float value otherwise, or, for a direct convolution, the integer level plus the
/// offset as bytes in padded HWC order (<see cref="SlotLayout.PaddedBytes"/>).
/// </summary>
internal sealed class QuantizeStep : ScoringStep
{
    private readonly ValueSlot input;
    private readonly ActivationCodec codec;
    private readonly byte[]? blank; // the padded layout with every pixel at value 0
    private readonly int[]? pixels; // where pixel (row, col) of a channel plane lands in the padded layout

    public QuantizeStep(string name, ValueSlot input, ValueSlot output) : base(name, output)
    {
        this.input = input;
        codec = output.Codec!;
        if (output.Layout == SlotLayout.PaddedBytes)
        {
            blank = output.BlankBytes(Offset);
            int height = output.Shape[1], width = output.Shape[2];
            pixels = new int[height * width];
            for (int row = 0; row < height; row++)
                for (int col = 0; col < width; col++)
                    pixels[row * width + col] = ((row + output.Padding) * output.PaddedWidth + output.Padding + col) * output.PaddedChannels;
        }
    }

    /// <summary>Added to integer levels to store them as bytes.</summary>
    public int Offset => -codec.MinInteger;

    public override void Run(Workspace ws)
    {
        var x = ws.Floats(input);
        switch (Output.Layout)
        {
            case SlotLayout.Shorts:
            {
                var y = ws.Shorts(Output);
                var integers = codec.Integers!;
                int i = 0;
                if (codec.IsVectorized)
                    for (; i + 16 <= x.Length; i += 16) Avx512F.ConvertToVector256Int16(codec.EncodeIntegers(Vector512.Create(x, i))).CopyTo(y, i);
                else if (codec.IsVectorized256)
                {
                    for (; i + 8 <= x.Length; i += 8)
                    {
                        var levels = codec.EncodeIntegers256(Vector256.Create(x, i));
                        Vector128.Narrow(levels.GetLower(), levels.GetUpper()).CopyTo(y, i);
                    }
                }
                Span<int> run = stackalloc int[256];
                for (; i < x.Length; i += run.Length)
                {
                    int n = Math.Min(run.Length, x.Length - i);
                    codec.EncodeIntegerRun(x.AsSpan(i, n), run);
                    for (int j = 0; j < n; j++) y[i + j] = (short)run[j];
                }
                break;
            }
            case SlotLayout.PaddedBytes:
            {
                var y = ws.Bytes(Output);
                blank!.CopyTo(y, 0);
                codec.EncodePlanes(x, Output.Shape[0], y, pixels, Offset);
                break;
            }
            default:
            {
                var y = ws.Floats(Output);
                for (int i = 0; i < x.Length; i++) y[i] = codec.Value(codec.Encode(x[i]));
                break;
            }
        }
    }
}
