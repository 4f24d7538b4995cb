using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Runtime;

/// <summary>
/// The epilogue with float maps (a residual add before the ReLU, the float map written besides the codes): a residual block's
/// second convolution takes its add, ReLU and the next block's quantizer, where four steps read and wrote each value apart.
/// The accumulators are position-major: a <see cref="SlotLayout.ChannelsLast"/> map is read and written in their order, a
/// channel-major one through tiles of 16 (AVX2: 8) positions transposed in registers, the residual into the accumulators' order
/// and the result back into the map's (a transposed residual and float map cost 13 µs where the separate steps took 12: ResNet20's
/// 16 × 32 × 32 maps, 2026-12-07).
/// </summary>
internal sealed partial class ActivationEpilogue
{
    /// <summary>Whether the epilogue adds a residual map or writes a float map (see <see cref="WriteMaps"/>).</summary>
    private bool HasMaps => residual is not null || floats is not null;

    /// <summary><see cref="Write"/> with float maps: per 16-output block, whole tiles on the vector path where it runs, the rest position by position.</summary>
    private unsafe void WriteMaps(ReadOnlySpan<int> acc, int ldc, int firstBlock, int blocks, int firstRow, int rows, Workspace ws, bool vectorized)
    {
        int start = firstRow * width, end = (firstRow + rows) * width; // no pool: positions are the map's pixels
        if (acc.Length < (long)(end - 1) * ldc + Math.Min(mul.Length, 16 * (firstBlock + blocks))) throw new ArgumentException("The accumulators do not cover the rows.", nameof(acc));
        fixed (int* sums = acc)
        fixed (float* r = residual is null ? null : ws.Floats(residual))
        fixed (float* y = floats is null ? null : ws.Floats(floats))
        fixed (byte* bytes = blank is null ? null : ws.Bytes(Target))
        fixed (short* shorts = blank is null ? ws.Shorts(Target) : null)
        {
            var maps = new MapPointers(sums, r, y, bytes, shorts);
            for (int b = firstBlock; b < firstBlock + blocks; b++)
            {
                int first = 16 * b, last = Math.Min(mul.Length, first + 16), done = start;
                if (vectorized && last - first == 16 && codec.IsVectorized)
                    done = !PixelByPixel ? WriteMapTiles(maps, ldc, first, start, end)
                        : codec.InRegisters is { } grid ? WriteMapPixels(grid, maps, ldc, first, start, end) : WriteMapPixels(new CodecEncoder(codec), maps, ldc, first, start, end);
                else if (vectorized && last - first == 16 && codec.IsVectorized256)
                    done = !PixelByPixel ? WriteMapTiles256(maps, ldc, first, start, end)
                        : codec.InRegisters256 is { } grid ? WriteMapPixels256(grid, maps, ldc, first, start, end) : WriteMapPixels256(new CodecEncoder256(codec), maps, ldc, first, start, end);
                for (int o = first; o < last && done < end; o++) WriteMapOutput(acc, ldc, o, done, end, ws); // the rest, if any: each call clears its runs
            }
        }
    }

    /// <summary>The pinned accumulators, residual, float map and target (bytes or shorts) of one <see cref="WriteMaps"/> call; null where absent.</summary>
    private readonly unsafe struct MapPointers(int* sums, float* residual, float* floats, byte* bytes, short* shorts)
    {
        public readonly int* Sums = sums;
        public readonly float* Residual = residual, Floats = floats;
        public readonly byte* Bytes = bytes;
        public readonly short* Shorts = shorts;
    }

    /// <summary>Output <paramref name="first"/>'s byte in the pixel of position <paramref name="p"/> (no pool: a pixel of the map).</summary>
    private unsafe byte* PixelOf(byte* bytes, int p, int first) => bytes + Pixel(p / width, p % width) + first;

    /// <summary>Bytes from a pixel to the next one along a row, and the border skipped between the last of a row and the first of the next.</summary>
    private int PixelStep => Target.PaddedChannels;

    /// <inheritdoc cref="PixelStep"/>
    private int RowSkip => 2 * Target.Padding * Target.PaddedChannels;

    /// <summary>Whether every map is in the accumulators' order (channels-last floats, padded bytes), so that pixels go one by one, each in registers throughout.</summary>
    private bool PixelByPixel => blank is not null && residual?.Layout is null or SlotLayout.ChannelsLast && floats?.Layout is null or SlotLayout.ChannelsLast;

    /// <summary>
    /// Outputs [<paramref name="first"/>, +16) at positions [<paramref name="start"/>, <paramref name="end"/>) where every map
    /// is channels-last (see <see cref="PixelByPixel"/>); returns <paramref name="end"/>. Through tiles, each vector went
    /// through memory between the steps: 9.2–10.7 µs for ResNet20's 16 × 32 × 32 maps, pixel by pixel 5.9, codes alone 3.2–4.4 (2026-12-07).
    /// </summary>
    private unsafe int WriteMapPixels<TEncoder>(TEncoder encoder, MapPointers maps, int ldc, int first, int start, int end)
        where TEncoder : struct, IVectorEncoder
    {
        var affine = BlockAffine(first, withRelu: false); // the ReLU comes after the residual
        var bias = Vector512.Create(offset);
        bool relu = this.relu;
        int col = start % width, channels = PixelStep, skip = RowSkip, stride = mul.Length;
        float* r = maps.Residual, y = maps.Floats;
        byte* pixel = PixelOf(maps.Bytes, start, first);
        int* row = maps.Sums + (long)start * ldc + first;
        float* shortcut = r + (long)start * stride + first, map = y + (long)start * stride + first;
        for (int p = start; p < end; p++, row += ldc, shortcut += stride, map += stride)
        {
            var v = affine.Apply(Vector512.Load(row));
            if (r is not null) v += Vector512.Load(shortcut);
            if (relu) v = Vector512.Max(v, Vector512<float>.Zero);
            if (y is not null) v.Store(map);
            Avx512F.ConvertToVector128Byte(encoder.Encode(v) + bias).Store(pixel);
            pixel += ++col == width ? channels + skip : channels;
            if (col == width) col = 0;
        }
        return end;
    }

    /// <summary>AVX2's <see cref="WriteMapPixels"/>: the block as two halves of 8 outputs.</summary>
    private unsafe int WriteMapPixels256<TEncoder>(TEncoder encoder, MapPointers maps, int ldc, int first, int start, int end)
        where TEncoder : struct, IVectorEncoder256
    {
        Affine256 low = HalfAffine(first, withRelu: false), high = HalfAffine(first + 8, withRelu: false);
        var bias = Vector256.Create(offset);
        bool relu = this.relu;
        int col = start % width, channels = PixelStep, skip = RowSkip, stride = mul.Length;
        float* r = maps.Residual, y = maps.Floats;
        byte* pixel = PixelOf(maps.Bytes, start, first);
        int* row = maps.Sums + (long)start * ldc + first;
        float* shortcut = r + (long)start * stride + first, map = y + (long)start * stride + first;
        for (int p = start; p < end; p++, row += ldc, shortcut += stride, map += stride)
        {
            Vector256<float> lo = low.Apply(Vector256.Load(row)), hi = high.Apply(Vector256.Load(row + 8));
            if (r is not null)
            {
                lo += Vector256.Load(shortcut);
                hi += Vector256.Load(shortcut + 8);
            }
            if (relu)
            {
                lo = Vector256.Max(lo, Vector256<float>.Zero);
                hi = Vector256.Max(hi, Vector256<float>.Zero);
            }
            if (y is not null)
            {
                lo.Store(map);
                hi.Store(map + 8);
            }
            var levels = Vector256.Narrow(encoder.Encode(lo) + bias, encoder.Encode(hi) + bias).AsUInt16();
            Vector128.Narrow(levels.GetLower(), levels.GetUpper()).Store(pixel);
            pixel += ++col == width ? channels + skip : channels;
            if (col == width) col = 0;
        }
        return end;
    }

    /// <summary>
    /// Output <paramref name="o"/> at positions [<paramref name="start"/>, <paramref name="end"/>): the scalar path, the unfused
    /// steps' operations value by value, encoded a run at a time (through a call per value, the scalar leg's ResNet20 ran 11×
    /// slower than AVX2 where it had run 8× before the maps: 2026-12-07).
    /// </summary>
    private void WriteMapOutput(ReadOnlySpan<int> acc, int ldc, int o, int start, int end, Workspace ws)
    {
        int c = correction?[o] ?? 0, plane = outHeight * outWidth;
        float m = mul[o], a = add[o];
        var r = residual is null ? null : ws.Floats(residual);
        var y = floats is null ? null : ws.Floats(floats);
        var bytes = blank is not null ? ws.Bytes(Target) : null;
        var shorts = blank is null ? ws.Shorts(Target) : null;
        // Each map's index of (o, p) is its first plus p times its step: 1 down a CHW plane, the channel count across HWC pixels.
        int shortcutStep = residual?.Layout == SlotLayout.ChannelsLast ? mul.Length : 1, mapStep = floats?.Layout == SlotLayout.ChannelsLast ? mul.Length : 1;
        int shortcut = residual?.FloatIndex(o, 0) ?? 0, map = floats?.FloatIndex(o, 0) ?? 0;
        Span<float> values = stackalloc float[Math.Min(256, Math.Max(1, end - start))];
        Span<int> levels = stackalloc int[values.Length];
        for (int from = start; from < end; from += values.Length)
        {
            int count = Math.Min(values.Length, end - from);
            for (int i = 0, p = from; i < count; i++, p++)
            {
                float v = (acc[p * ldc + o] - c) * m + a;
                if (r is not null) v += r[shortcut + p * shortcutStep];
                if (relu) v = Math.Max(v, 0f);
                if (y is not null) y[map + p * mapStep] = v;
                values[i] = v;
            }
            codec.EncodeIntegerRun(values[..count], levels);
            if (bytes is null)
            {
                for (int i = 0; i < count; i++) shorts![o * plane + from + i] = (short)levels[i];
                continue;
            }
            int col = from % width, pixel = Pixel(from / width, col) + o, step = PixelStep, skip = RowSkip; // stepped along: a division per value cost more than the rest
            for (int i = 0; i < count; i++)
            {
                bytes[pixel] = (byte)(levels[i] + offset);
                pixel += ++col == width ? step + skip : step;
                if (col == width) col = 0;
            }
        }
    }

    /// <summary>
    /// Outputs [<paramref name="first"/>, +16) at whole tiles of 16 positions from <paramref name="start"/> on; returns the first
    /// position left. The ReLU is IEEE's maximum, as the scalar path's: NaN stays NaN in the float map.
    /// </summary>
    private unsafe int WriteMapTiles(MapPointers maps, int ldc, int first, int start, int end)
    {
        var affine = BlockAffine(first, withRelu: false); // the ReLU comes after the residual
        var bias = Vector512.Create(offset);
        int plane = outHeight * outWidth, p0 = start, col = start % width, channels = PixelStep, skip = RowSkip;
        bool residualLast = residual?.Layout == SlotLayout.ChannelsLast, floatsLast = floats?.Layout == SlotLayout.ChannelsLast;
        var rows = stackalloc Vector512<float>[16];
        var other = stackalloc Vector512<float>[16];
        int* sums = maps.Sums;
        float* r = maps.Residual, y = maps.Floats;
        byte* bytes = maps.Bytes;
        short* shorts = maps.Shorts;
        long block = (long)first * plane;
        byte* pixel = bytes is null ? null : PixelOf(bytes, start, first); // position p0's pixel, stepped along (a division per position took most of the time)
        for (; p0 + 16 <= end; p0 += 16)
        {
            for (int k = 0; k < 16; k++) rows[k] = affine.Apply(Vector512.Load(sums + (long)(p0 + k) * ldc + first));
            if (r is not null && residualLast)
                for (int k = 0; k < 16; k++) rows[k] += Vector512.Load(r + (long)(p0 + k) * mul.Length + first);
            else if (r is not null)
            {
                for (int j = 0; j < 16; j++) other[j] = Vector512.Load(r + block + j * plane + p0);
                FloatTranspose.Transpose16(other);
                for (int k = 0; k < 16; k++) rows[k] += other[k];
            }
            if (relu) for (int k = 0; k < 16; k++) rows[k] = Vector512.Max(rows[k], Vector512<float>.Zero);
            if (bytes is not null)
                for (int k = 0; k < 16; k++)
                {
                    Avx512F.ConvertToVector128Byte(codec.EncodeIntegers(rows[k]) + bias).Store(pixel);
                    pixel += ++col == width ? channels + skip : channels;
                    if (col == width) col = 0;
                }
            if (y is not null && floatsLast)
                for (int k = 0; k < 16; k++) rows[k].Store(y + (long)(p0 + k) * mul.Length + first);
            if ((y is null || floatsLast) && shorts is null) continue;
            FloatTranspose.Transpose16(rows);
            for (int j = 0; j < 16; j++)
            {
                if (y is not null && !floatsLast) rows[j].Store(y + block + j * plane + p0);
                if (shorts is not null) Avx512F.ConvertToVector256Int16(codec.EncodeIntegers(rows[j])).Store(shorts + block + j * plane + p0);
            }
        }
        return p0;
    }

    /// <summary>AVX2's <see cref="WriteMapTiles"/>: tiles of 8 positions, the block as two halves of 8 outputs.</summary>
    private unsafe int WriteMapTiles256(MapPointers maps, int ldc, int first, int start, int end)
    {
        Affine256 low = HalfAffine(first, withRelu: false), high = HalfAffine(first + 8, withRelu: false);
        var bias = Vector256.Create(offset);
        int plane = outHeight * outWidth, p0 = start, col = start % width, channels = PixelStep, skip = RowSkip;
        bool residualLast = residual?.Layout == SlotLayout.ChannelsLast, floatsLast = floats?.Layout == SlotLayout.ChannelsLast;
        var lows = stackalloc Vector256<float>[8];
        var highs = stackalloc Vector256<float>[8];
        var other = stackalloc Vector256<float>[8];
        int* sums = maps.Sums;
        float* r = maps.Residual, y = maps.Floats;
        byte* bytes = maps.Bytes;
        short* shorts = maps.Shorts;
        long block = (long)first * plane;
        byte* pixel = bytes is null ? null : PixelOf(bytes, start, first);
        for (; p0 + 8 <= end; p0 += 8)
        {
            for (int k = 0; k < 8; k++)
            {
                int* row = sums + (long)(p0 + k) * ldc + first;
                lows[k] = low.Apply(Vector256.Load(row));
                highs[k] = high.Apply(Vector256.Load(row + 8));
            }
            if (r is not null && residualLast)
                for (int k = 0; k < 8; k++)
                {
                    float* row = r + (long)(p0 + k) * mul.Length + first;
                    lows[k] += Vector256.Load(row);
                    highs[k] += Vector256.Load(row + 8);
                }
            else if (r is not null)
            {
                for (int half = 0; half < 16; half += 8)
                {
                    for (int j = 0; j < 8; j++) other[j] = Vector256.Load(r + block + (half + j) * plane + p0);
                    FloatTranspose.Transpose8(other);
                    var rows = half == 0 ? lows : highs;
                    for (int k = 0; k < 8; k++) rows[k] += other[k];
                }
            }
            if (relu)
                for (int k = 0; k < 8; k++)
                {
                    lows[k] = Vector256.Max(lows[k], Vector256<float>.Zero);
                    highs[k] = Vector256.Max(highs[k], Vector256<float>.Zero);
                }
            if (bytes is not null)
                for (int k = 0; k < 8; k++)
                {
                    var levels = Vector256.Narrow(codec.EncodeIntegers256(lows[k]) + bias, codec.EncodeIntegers256(highs[k]) + bias).AsUInt16();
                    Vector128.Narrow(levels.GetLower(), levels.GetUpper()).Store(pixel);
                    pixel += ++col == width ? channels + skip : channels;
                    if (col == width) col = 0;
                }
            if (y is not null && floatsLast)
                for (int k = 0; k < 8; k++)
                {
                    float* row = y + (long)(p0 + k) * mul.Length + first;
                    lows[k].Store(row);
                    highs[k].Store(row + 8);
                }
            if ((y is null || floatsLast) && shorts is null) continue;
            for (int half = 0; half < 16; half += 8)
            {
                var rows = half == 0 ? lows : highs;
                FloatTranspose.Transpose8(rows);
                for (int j = 0; j < 8; j++)
                {
                    long at = block + (half + j) * plane + p0;
                    if (y is not null && !floatsLast) rows[j].Store(y + at);
                    if (shorts is null) continue;
                    var levels = codec.EncodeIntegers256(rows[j]);
                    Vector128.Narrow(levels.GetLower(), levels.GetUpper()).Store(shorts + at);
                }
            }
        }
        return p0;
    }
}
