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
    private readonly int[]? sources; // a sampled output's pixels in the input map (ValueSlot.Sampling)

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
            if (output.Sampling > 1)
            {
                int s = output.Sampling, inputWidth = input.Shape[2];
                sources = Enumerable.Range(0, height * width).Select(p => p / width * s * inputWidth + p % width * s).ToArray();
            }
        }
    }

    /// <summary>Added to integer levels to store them as bytes.</summary>
    public int Offset => -codec.MinInteger;

    public override void Run(Workspace ws)
    {
        var x = ws.Floats(input);
        if (input.Layout == SlotLayout.ChannelsLast)
        {
            RunChannelsLast(ws, x);
            return;
        }
        switch (Output.Layout)
        {
            case SlotLayout.Shorts:
            {
                // Threads share the values in runs of whole vectors.
                var y = ws.Shorts(Output);
                int vectors = (x.Length + 15) / 16;
                ws.Split(vectors, (long)x.Length * ValueCost, (first, count) =>
                {
                    int start = 16 * first, end = Math.Min(x.Length, 16 * (first + count));
                    codec.EncodeShorts(x.AsSpan(start, end - start), y.AsSpan(start));
                });
                break;
            }
            case SlotLayout.PaddedBytes:
            {
                // Threads share the pixels in whole tiles of 16: each writes its pixels' every channel, so none shares a pixel's bytes.
                var y = ws.Bytes(Output);
                blank!.CopyTo(y, 0);
                int plane = pixels!.Length, tiles = (plane + 15) / 16, channels = Output.Shape[0], length = channels * plane;
                var values = Sampled(ws, x, channels);
                ws.Split(tiles, (long)length * ValueCost, (first, count) =>
                    codec.EncodePlanes(values.AsSpan(0, length), channels, y, pixels, Offset, 16 * first, Math.Min(plane, 16 * (first + count))));
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

    /// <summary>The channel-major input, or where the output is sampled, its sampled pixels' values gathered channel by channel.</summary>
    private float[] Sampled(Workspace ws, float[] x, int channels)
    {
        if (sources is null) return x;
        int plane = x.Length / channels, count = sources.Length;
        var values = ws.PlaneFloats(channels * count);
        for (int c = 0; c < channels; c++)
            for (int p = 0; p < count; p++) values[c * count + p] = x[c * plane + sources[p]];
        return values;
    }

    /// <summary>
    /// A channels-last map: into padded bytes each pixel's channels as one run (the layouts agree, so nothing is transposed);
    /// into any other slot a channel at a time.
    /// </summary>
    private void RunChannelsLast(Workspace ws, float[] x)
    {
        int channels = input.Shape[0], plane = input.Length / channels;
        if (Output.Layout == SlotLayout.PaddedBytes)
        {
            var y = ws.Bytes(Output);
            blank!.CopyTo(y, 0);
            ws.Split(pixels!.Length, (long)Output.Length * ValueCost, (first, count) =>
            {
                for (int p = first; p < first + count; p++) codec.EncodeBytes(x.AsSpan((sources?[p] ?? p) * channels, channels), y.AsSpan(pixels[p], channels), Offset);
            });
            return;
        }
        // Else each channel gathered into a plane, then as a channel-major input is (the shorts through the vector encoder).
        var shorts = Output.Layout == SlotLayout.Shorts ? ws.Shorts(Output) : null;
        var values = shorts is null ? ws.Floats(Output) : null;
        var gathered = ws.PlaneFloats(plane);
        for (int c = 0; c < channels; c++)
        {
            for (int p = 0; p < plane; p++) gathered[p] = x[p * channels + c];
            if (shorts is not null) codec.EncodeShorts(gathered.AsSpan(0, plane), shorts.AsSpan(c * plane, plane));
            else for (int p = 0; p < plane; p++) values![c * plane + p] = codec.Value(codec.Encode(gathered[p]));
        }
    }

    // Work of one value in multiply-adds, the unit of Workspace.Split's threshold: ResNet20's 16K-value quantizers took 7.6 µs, a
    // 2.4M multiply-add layer of it 21 µs, so a value is worth about 16 and quantizers of 8K values and more take both threads.
    private const int ValueCost = 16;

}
