using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
/// instead of a stored map (which for a 7×7 stem at 224×224 is 7 MB of indices read per example): a row holds C·k·k
/// inputs in (channel, ky, kx) order, and each (channel, ky) of it is one run of k neighbours in an input row, cut
/// where the window hangs over the border.
/// </summary>
internal sealed class ConvolutionWindow
{
    private readonly int channels, height, width, kernel, stride, padding;

    /// <summary>The window over [<paramref name="channels"/>, <paramref name="height"/>, <paramref name="width"/>].</summary>
    public ConvolutionWindow(int channels, int height, int width, int kernel, int stride, int padding)
    {
        (this.channels, this.height, this.width, this.kernel, this.stride, this.padding) = (channels, height, width, kernel, stride, padding);
        OutHeight = (height + 2 * padding - kernel) / stride + 1;
        OutWidth = (width + 2 * padding - kernel) / stride + 1;
    }

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

    /// <summary>
    /// Writes the rows of positions [<paramref name="start"/>, <paramref name="start"/> + <paramref name="count"/>), row p at
    /// p·<paramref name="ldx"/>, each element made by <paramref name="element"/>; the columns past <see cref="Depth"/> are not written.
    /// </summary>
    public void Rows<TIn, TOut, TElement>(ReadOnlySpan<TIn> x, int start, int count, Span<TOut> rows, int ldx, TElement element)
        where TElement : struct, IRowElement<TIn, TOut>
    {
        if (x.Length < InputLength) throw new ArgumentException($"The input holds {x.Length} elements, fewer than {InputLength}.", nameof(x));
        if (start < 0 || count < 0 || start + count > Positions || ldx < Depth || (count > 0 && rows.Length < (start + count - 1) * ldx + Depth))
            throw new ArgumentOutOfRangeException(nameof(count), "The rows do not fit the positions asked for.");
        // Checked once above, so the runs below read and write without per-element bounds checks.
        ref TIn input = ref MemoryMarshal.GetReference(x);
        ref TOut output = ref MemoryMarshal.GetReference(rows);
        TOut pad = element.Pad;
        int plane = height * width;
        for (int p = start; p < start + count; p++)
        {
            int oy = p / OutWidth, ox = p - oy * OutWidth;
            int top = oy * stride - padding, left = ox * stride - padding;
            int from = Math.Min(kernel, Math.Max(0, -left)), to = Math.Max(from, Math.Min(kernel, width - left));
            ref TOut row = ref Unsafe.Add(ref output, p * ldx);
            int d = 0;
            for (int c = 0; c < channels; c++)
                for (int ky = 0; ky < kernel; ky++, d += kernel)
                {
                    int iy = top + ky;
                    bool inside = (uint)iy < (uint)height && from < to;
                    int first = inside ? from : kernel, last = inside ? to : kernel;
                    for (int kx = 0; kx < first; kx++) Unsafe.Add(ref row, d + kx) = pad;
                    if (inside)
                    {
                        // From the run's first element inside the map: a reference outside the input would not be valid.
                        ref TIn run = ref Unsafe.Add(ref input, c * plane + iy * width + left + from);
                        for (int kx = from; kx < to; kx++) Unsafe.Add(ref row, d + kx) = element.From(Unsafe.Add(ref run, kx - from));
                    }
                    for (int kx = last; kx < kernel; kx++) Unsafe.Add(ref row, d + kx) = pad;
                }
        }
    }
}
