namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>
/// Where a direct convolution reads its windows in a padded HWC map of <c>unit</c> elements per pixel (bytes of
/// padded channels, or words of bit planes): the offset of each of the k·k taps from a window's start, and where
/// each output pixel's window starts, so that the pixels of all rows are tiled together.
/// </summary>
internal static class WindowOffsets
{
    /// <summary>Offsets of the k·k taps, row-major.</summary>
    public static int[] Taps(int kernel, int paddedWidth, int unit)
    {
        var taps = new int[kernel * kernel];
        for (int ky = 0; ky < kernel; ky++)
            for (int kx = 0; kx < kernel; kx++) taps[ky * kernel + kx] = (ky * paddedWidth + kx) * unit;
        return taps;
    }

    /// <summary>Start of every output pixel's window, output row-major.</summary>
    public static int[] Starts(int outHeight, int outWidth, int stride, int paddedWidth, int unit)
    {
        var starts = new int[outHeight * outWidth];
        for (int oy = 0; oy < outHeight; oy++)
            for (int ox = 0; ox < outWidth; ox++) starts[oy * outWidth + ox] = (oy * stride * paddedWidth + ox * stride) * unit;
        return starts;
    }
}
