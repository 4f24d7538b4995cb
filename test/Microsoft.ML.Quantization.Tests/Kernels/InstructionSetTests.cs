using System.Runtime.Intrinsics.X86;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Kernels;

/// <summary>
/// .ci/run reruns the kernel and runtime tests with AVX-512 (DOTNET_EnableAVX512=0), AVX2 (DOTNET_EnableAVX2=0) and then all
/// hardware intrinsics (DOTNET_EnableHWIntrinsic=0) switched off, naming the path it expects in MLQUANT_EXPECTED_ISA; this checks that the switch
/// took, so that no such run passes on the vector paths by mistake. (.NET 10 ignores the older DOTNET_EnableAVX512F.)
/// </summary>
public class InstructionSetTests
{
    [Fact]
    public void TheRunIsOnThePathCiAskedFor()
    {
        string expected = Environment.GetEnvironmentVariable("MLQUANT_EXPECTED_ISA") ?? "native";
        switch (expected)
        {
            case "no-avx512":
                Assert.False(Avx512F.IsSupported);
                Assert.False(Avx512BW.IsSupported);
                // The AVX2 paths of the int8, int16 and float kernels are what this run tests.
                Assert.True(Microsoft.ML.Quantization.Kernels.Int8Gemm.IsAvx2Accelerated);
                Assert.True(Microsoft.ML.Quantization.Kernels.Int16Gemm.IsAvx2Accelerated);
                Assert.True(Microsoft.ML.Quantization.Kernels.FloatGemm.IsAvx2Accelerated);
                break;
            case "no-avx2":
                Assert.True(Sse2.IsSupported);
                Assert.False(Avx2.IsSupported);
                Assert.False(Avx512F.IsSupported);
                // Neither wide vector path of the int8 kernel: its 128-bit quad tile (SSSE3 pairs; Arm64's sdot sums the same tile) scores, the other kernels' portable loops.
                Assert.True(Microsoft.ML.Quantization.Kernels.Int8Gemm.IsQuads128Accelerated);
                Assert.True(Microsoft.ML.Quantization.Kernels.Int8Gemm.IsVector128Accelerated);
                Assert.True(Microsoft.ML.Quantization.Kernels.Int16Gemm.IsVector128Accelerated);
                Assert.False(Microsoft.ML.Quantization.Kernels.Int8Gemm.IsAvx2Accelerated);
                Assert.False(Microsoft.ML.Quantization.Kernels.Int8Gemm.IsAccelerated);
                Assert.False(Microsoft.ML.Quantization.Kernels.Int16Gemm.IsAvx2Accelerated);
                Assert.False(Microsoft.ML.Quantization.Kernels.FloatGemm.IsAvx2Accelerated);
                break;
            case "scalar":
                Assert.False(Sse2.IsSupported);
                Assert.False(Avx2.IsSupported);
                Assert.False(Avx512F.IsSupported);
                // The int8 kernel's portable path (8- or 16-bit fields, else the plain loop).
                Assert.False(Microsoft.ML.Quantization.Kernels.Int8Gemm.IsVector128Accelerated);
                Assert.False(Microsoft.ML.Quantization.Kernels.Int8Gemm.IsQuads128Accelerated);
                Assert.False(Microsoft.ML.Quantization.Kernels.Int16Gemm.IsVector128Accelerated);
                Assert.False(Microsoft.ML.Quantization.Kernels.Int8Gemm.IsAvx2Accelerated);
                break;
            case "native":
                // The machine's own instruction sets: the kernels' entry points agree with them.
                Assert.Equal(Avx512BW.IsSupported, Microsoft.ML.Quantization.Kernels.Int8Gemm.IsAccelerated);
                break;
            default:
                Assert.Fail($"MLQUANT_EXPECTED_ISA '{expected}' is not one of no-avx512, no-avx2, scalar, native.");
                break;
        }
    }
}
