using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>How an im2col row element is made from an input element, and what a padded element holds.</summary>
internal interface IRowElement<TIn, TOut>
{
    /// <summary>The element where the window hangs over the border.</summary>
    TOut Pad { get; }

    /// <summary>The element made from input <paramref name="value"/>.</summary>
    TOut From(TIn value);
}

/// <summary>
/// The im2col rows of a convolution over [C,H,W] with a square kernel, stride and zero padding, read from the geometry
/// instead of a stored map (which for a 7×7 stem at 224×224 is 7 MB of indices read per example): the input is first
/// copied once into a plane with its border around it (<see cref="Pad"/>), so that a row, C·k·k elements in (channel, ky, kx)
/// order, is C·k runs of k neighbours copied as they stand, with no test for the border (cutting each run at the border,
/// element by element, took 2 of the 3.3 ms of ResNet18's stem). With its channels interleaved (<see cref="Interleaves"/>:
/// few channels), the plane holds each pixel's channels together and a row, in (ky, kx, channel) order, is k runs of k·C.
/// </summary>
internal sealed class ConvolutionWindow
{
    private readonly int channels, height, width, kernel, stride, padding;
    private readonly bool interleaved;

    /// <summary>
    /// The window over [<paramref name="channels"/>, <paramref name="height"/>, <paramref name="width"/>]; <paramref name="interleaved"/>:
    /// rows in (ky, kx, channel) order, which the weights' columns must follow (<see cref="Serialization.ExportedTensor.KernelChannelsLast"/>).
    /// </summary>
    public ConvolutionWindow(int channels, int height, int width, int kernel, int stride, int padding, bool interleaved = false)
    {
        (this.channels, this.height, this.width, this.kernel, this.stride, this.padding) = (channels, height, width, kernel, stride, padding);
        this.interleaved = interleaved;
        OutHeight = (height + 2 * padding - kernel) / stride + 1;
        OutWidth = (width + 2 * padding - kernel) / stride + 1;
    }

    /// <summary>
    /// Whether rows are better gathered with the channels interleaved: several channels whose k·C elements fit one run of at
    /// most 32 (ResNet18's stem: 7 runs of 21 bytes a row where it copied 21 runs of 7).
    /// </summary>
    public static bool Interleaves(int channels, int kernel) => channels > 1 && channels * kernel <= 32;

    /// <summary>Rows of the output map.</summary>
    public int OutHeight { get; }

    /// <summary>Columns of the output map.</summary>
    public int OutWidth { get; }

    /// <summary>Output positions: one row each.</summary>
    public int Positions => OutHeight * OutWidth;

    /// <summary>Elements of a row, C·k·k.</summary>
    public int Depth => channels * kernel * kernel;

    /// <summary>Input elements read, C·H·W.</summary>
    public int InputLength => channels * height * width;

    private int PaddedHeight => height + 2 * padding;

    private int PaddedWidth => width + 2 * padding;

    /// <summary>Elements of the padded plane: C·(H + 2p)·(W + 2p), and room for the last run's whole-vector read.</summary>
    public int PlaneLength => channels * PaddedHeight * PaddedWidth + PlaneSlack;

    private const int PlaneSlack = 64; // elements: at least the 64 bytes a run of at most 64 bytes reads

    /// <summary>Elements a pixel takes in the plane: 1, or C with the channels interleaved.</summary>
    private int Pixel => interleaved ? channels : 1;

    /// <summary>Elements from one padded row of the plane to the next.</summary>
    private int RowStride => PaddedWidth * Pixel;

    /// <summary>Elements from one channel's padded plane to the next (one plane holds them all when interleaved).</summary>
    private int ChannelStride => PaddedHeight * PaddedWidth;

    /// <summary>Where output position (<paramref name="oy"/>, <paramref name="ox"/>)'s window starts in the plane.</summary>
    private int Corner(int oy, int ox) => (oy * stride * PaddedWidth + ox * stride) * Pixel;

    /// <summary>Elements of a row's runs: k (one channel's kernel row), or k·C with the channels interleaved.</summary>
    private int RunLength => kernel * Pixel;

    /// <summary>Channel planes the plane holds: C, or 1 with the channels interleaved.</summary>
    private int Planes => interleaved ? 1 : channels;

    /// <summary>Runs a row: C·k, or k with the channels interleaved.</summary>
    private int Runs => kernel * Planes;

    /// <summary>A run's length rounded up to whole pairs, for a product over the plane (<see cref="PairOffsets"/>).</summary>
    private int PairedRunLength => (RunLength + 1) & ~1;

    /// <summary>Whether an int16 product should read the rows in place: runs of 2 or more (a 1×1 kernel's runs of one would double its work).</summary>
    public bool PairsInPlace => RunLength > 1;

    /// <summary>Elements of a row read as whole pairs of each run: <see cref="Depth"/> and a padding element per odd run.</summary>
    public int PairedDepth => Runs * PairedRunLength;

    /// <summary>
    /// Where each of a row's <see cref="Depth"/> elements lies among the <see cref="PairedDepth"/> that the pairs read: each
    /// run's elements in turn, an odd run followed by its padding (the plane's next element, to take a zero weight).
    /// </summary>
    public int[] PairedColumns()
    {
        int run = RunLength, paired = PairedRunLength;
        return Enumerable.Range(0, Depth).Select(i => i / run * paired + i % run).ToArray();
    }

    /// <summary>
    /// The plane offsets, from a position's start (<see cref="PositionStarts"/>), of the pairs of elements <see cref="PairedColumns"/>
    /// places: a product reads the rows in place, and no im2col rows are gathered.
    /// </summary>
    public int[] PairOffsets()
    {
        int rowStride = RowStride, channelStride = ChannelStride, pairs = PairedRunLength / 2;
        var offsets = new int[Runs * pairs];
        for (int r = 0; r < Runs; r++)
            for (int j = 0; j < pairs; j++) offsets[r * pairs + j] = r / kernel * channelStride + r % kernel * rowStride + 2 * j;
        return offsets;
    }

    /// <summary>Each output position's corner in the plane <see cref="Pad"/> writes: where its row's first run starts.</summary>
    public int[] PositionStarts()
    {
        return Enumerable.Range(0, Positions).Select(p => Corner(p / OutWidth, p % OutWidth)).ToArray();
    }

    /// <summary>
    /// Writes the input <paramref name="x"/> into <paramref name="plane"/> (<see cref="PlaneLength"/> elements) with its border:
    /// each element made by <paramref name="element"/>, the border its <see cref="IRowElement{TIn, TOut}.Pad"/>.
    /// </summary>
    public void Pad<TIn, TOut, TElement>(ReadOnlySpan<TIn> x, Span<TOut> plane, TElement element)
        where TElement : struct, IRowElement<TIn, TOut>
    {
        if (x.Length < InputLength) throw new ArgumentException($"The input holds {x.Length} elements, fewer than {InputLength}.", nameof(x));
        if (plane.Length < PlaneLength) throw new ArgumentException($"The plane holds {plane.Length} elements, fewer than {PlaneLength}.", nameof(plane));
        int paddedWidth = PaddedWidth, border = padding * paddedWidth;
        var pad = element.Pad;
        if (interleaved)
        {
            // The border: the rows above and below the map, and each row's ends, every channel of a pixel together.
            plane[..(border * channels)].Fill(pad);
            plane.Slice((border + height * paddedWidth) * channels, border * channels).Fill(pad);
            for (int y = 0; y < height; y++)
            {
                var target = plane.Slice((border + y * paddedWidth) * channels, paddedWidth * channels);
                target[..(padding * channels)].Fill(pad);
                target[((padding + width) * channels)..].Fill(pad);
                for (int c = 0; c < channels; c++)
                {
                    var source = x.Slice((c * height + y) * width, width);
                    for (int i = 0, at = padding * channels + c; i < width; i++, at += channels) target[at] = element.From(source[i]);
                }
            }
            return;
        }
        for (int c = 0; c < channels; c++)
        {
            var channel = plane.Slice(c * PaddedHeight * paddedWidth, PaddedHeight * paddedWidth);
            // Only the border is filled: the rows above and below the map, and each row's ends.
            channel[..border].Fill(pad);
            channel[^border..].Fill(pad);
            for (int y = 0; y < height; y++)
            {
                var source = x.Slice((c * height + y) * width, width);
                var target = channel.Slice(border + y * paddedWidth, paddedWidth);
                target[..padding].Fill(pad);
                target[(padding + width)..].Fill(pad);
                for (int i = 0; i < width; i++) target[padding + i] = element.From(source[i]);
            }
        }
    }

    /// <summary>
    /// Writes the rows of positions [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>), row p at
    /// p·<paramref name="ldx"/>, from the <paramref name="plane"/> <see cref="Pad"/> wrote; the columns past <see cref="Depth"/>
    /// are zeroed. Each run is copied as one vector (or two of 32 bytes) wide enough to hold it, the elements past its end overwritten by the runs
    /// after it, those past the row's end by the next row: only the range's last row keeps its vectors within its depth, so
    /// that no write reaches a row outside the range (another thread's).
    /// </summary>
    public unsafe void Rows<T>(ReadOnlySpan<T> plane, int start, int count, Span<T> rows, int ldx) where T : unmanaged
    {
        if (plane.Length < PlaneLength) throw new ArgumentException($"The plane holds {plane.Length} elements, fewer than {PlaneLength}.", nameof(plane));
        if (start < 0 || count < 0 || start + count > Positions || ldx < Depth || (count > 0 && rows.Length < (start + count - 1) * ldx + Depth))
            throw new ArgumentOutOfRangeException(nameof(count), "The rows do not fit the positions asked for.");
        // Interleaved, one "channel" of runs k·C long in rows k·C apart; else C channels of runs k long.
        int planes = Planes, runBytes = RunLength * sizeof(T), rowStride = RowStride, channelStride = ChannelStride;
        // Checked once above, so the runs below read and write without per-element bounds checks.
        fixed (T* planeStart = plane)
        fixed (T* rowsStart = rows)
        {
            int oy = start / Math.Max(1, OutWidth), ox = start - oy * OutWidth;
            for (int p = start; p < start + count; p++, ox++)
            {
                if (ox == OutWidth) (oy, ox) = (oy + 1, 0);
                byte* row = (byte*)(rowsStart + (long)p * ldx);
                T* corner = planeStart + Corner(oy, ox);
                int limit = (p + 1 < start + count ? ldx + Depth : Depth) * sizeof(T), at = 0;
                for (int c = 0; c < planes; c++)
                    for (int ky = 0; ky < kernel; ky++, at += runBytes)
                    {
                        byte* run = (byte*)(corner + c * channelStride + ky * rowStride);
                        if (runBytes <= 8 && at + 8 <= limit) Unsafe.WriteUnaligned(row + at, Unsafe.ReadUnaligned<ulong>(run));
                        else if (runBytes <= 16 && at + 16 <= limit) Unsafe.WriteUnaligned(row + at, Unsafe.ReadUnaligned<Vector128<byte>>(run));
                        else if (runBytes <= 32 && at + 32 <= limit) Unsafe.WriteUnaligned(row + at, Unsafe.ReadUnaligned<Vector256<byte>>(run));
                        else if (runBytes <= 64 && at + 64 <= limit) // both halves read before either is written
                        {
                            var (low, high) = (Unsafe.ReadUnaligned<Vector256<byte>>(run), Unsafe.ReadUnaligned<Vector256<byte>>(run + 32));
                            Unsafe.WriteUnaligned(row + at, low);
                            Unsafe.WriteUnaligned(row + at + 32, high);
                        }
                        else Buffer.MemoryCopy(run, row + at, runBytes, runBytes);
                    }
                // The tail past the depth element by element: a few elements, where a span's Clear is a call per row (a
                // 3×3 single-channel layer's 784 rows took 6 µs to gather with it). The last row's tail stops where the rows do.
                T* end = rowsStart + Math.Min((long)(p + 1) * ldx, rows.Length);
                for (T* tail = rowsStart + (long)p * ldx + Depth; tail < end; tail++) *tail = default;
            }
        }
    }
}
