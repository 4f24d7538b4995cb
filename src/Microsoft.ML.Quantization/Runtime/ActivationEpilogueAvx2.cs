using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Microsoft.ML.Quantization.Runtime;

/// <summary>The AVX2 path of the epilogue (into padded bytes or CHW shorts): a 16-output block as two 8-output halves, the scalar path's operations.</summary>
internal sealed partial class ActivationEpilogue
{
    // As the AVX-512 block: one loop per target, free of calls, so that the affine vectors stay in registers.
    private unsafe void WriteBlock256(ReadOnlySpan<int> acc, int ldc, int first, int firstRow, int endRow, Workspace ws)
    {
        Affine256 low = HalfAffine(first, relu), high = HalfAffine(first + 8, relu);
        fixed (int* accumulators = acc)
        {
            if (blank is null)
            {
                WriteShorts256(accumulators + first, ldc, ws.Shorts(Target), first, firstRow, endRow, low, high);
                return;
            }
            fixed (byte* bytes = ws.Bytes(Target))
            {
                if (codec.InRegisters256 is { } grid) WriteBytes256(grid, accumulators + first, ldc, bytes + first, firstRow, endRow, low, high);
                else WriteBytes256(new CodecEncoder256(codec), accumulators + first, ldc, bytes + first, firstRow, endRow, low, high);
            }
        }
    }

    private unsafe void WriteBytes256<TEncoder>(TEncoder encoder, int* acc, int ldc, byte* target, int firstRow, int endRow, Affine256 low, Affine256 high)
        where TEncoder : struct, IVectorEncoder256
    {
        var bias = Vector256.Create(offset);
        int channels = Target.PaddedChannels, rowBytes = Target.PaddedWidth * channels, start = (Target.Padding * Target.PaddedWidth + Target.Padding) * channels;
        for (int oy = firstRow; oy < endRow; oy++)
        {
            byte* pixel = target + start + oy * rowBytes;
            int* window = acc + (long)oy * pool * width * ldc;
            for (int ox = 0; ox < outWidth; ox++, pixel += channels, window += pool * ldc)
            {
                var shorts = Vector256.Narrow(encoder.Encode(Pooled256(window, ldc, low)) + bias, encoder.Encode(Pooled256(window + 8, ldc, high)) + bias).AsUInt16();
                Vector128.Narrow(shorts.GetLower(), shorts.GetUpper()).Store(pixel);
            }
        }
    }

    private unsafe void WriteShorts256(int* acc, int ldc, short[] target, int first, int firstRow, int endRow, Affine256 low, Affine256 high)
    {
        int* lanes = stackalloc int[16]; // a CHW target takes the 16 levels one by one
        for (int oy = firstRow; oy < endRow; oy++)
        {
            int* window = acc + (long)oy * pool * width * ldc;
            for (int ox = 0; ox < outWidth; ox++, window += pool * ldc)
            {
                codec.EncodeIntegers256(Pooled256(window, ldc, low)).Store(lanes);
                codec.EncodeIntegers256(Pooled256(window + 8, ldc, high)).Store(lanes + 8);
                for (int j = 0; j < 16; j++) target[((first + j) * outHeight + oy) * outWidth + ox] = (short)lanes[j];
            }
        }
    }

    /// <summary>The max over the pool window of the affine values of 8 outputs, ReLU'd.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe Vector256<float> Pooled256(int* window, int ldc, in Affine256 affine)
    {
        if (pool == 1) return affine.Apply(Vector256.Load(window)); // a convolution without pool: one value, no running max
        if (pool == 2) // as Pooled
        {
            var max = affine.Apply(Vector256.Load(window));
            max = Avx.Max(max, affine.Apply(Vector256.Load(window + ldc)));
            max = Avx.Max(max, affine.Apply(Vector256.Load(window + width * ldc)));
            return Avx.Max(max, affine.Apply(Vector256.Load(window + (width + 1) * ldc)));
        }
        var best = Vector256.Create(float.NegativeInfinity);
        for (int dy = 0; dy < pool; dy++)
            for (int dx = 0; dx < pool; dx++) best = Avx.Max(best, affine.Apply(Vector256.Load(window + (dy * width + dx) * ldc)));
        return best;
    }

    /// <summary>The affine of outputs [<paramref name="from"/>, +8), with the ReLU or not.</summary>
    private Affine256 HalfAffine(int from, bool withRelu) => new(correction is null ? Vector256<int>.Zero : Vector256.Create<int>(correction.AsSpan(from, 8)),
        Vector256.Create<float>(mul.AsSpan(from, 8)), Vector256.Create<float>(add.AsSpan(from, 8)), withRelu);

    /// <summary>(acc − c)·m + a for 8 outputs, then the ReLU if any, as <see cref="Affine"/> does for 16.</summary>
    private readonly struct Affine256(Vector256<int> correction, Vector256<float> mul, Vector256<float> add, bool relu)
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public Vector256<float> Apply(Vector256<int> acc)
        {
            var v = Avx.ConvertToVector256Single(acc - correction) * mul + add;
            return relu ? Avx.Max(v, Vector256<float>.Zero) : v;
        }
    }
}
