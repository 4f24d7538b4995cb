using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Microsoft.ML.Quantization.Kernels;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>One kernel measurement: GOPS (2 ops per multiply-add) and its share of the probed peak.</summary>
internal sealed record KernelRow(string Kernel, string Shape, double Gops, double ShareOfPeak);

/// <summary>
/// GOPS of the int8 and 2-bit GEMMs at 64×512×512, 1×128×512 (a TextLstm step's recurrent product) and 1×4096×4096
/// (positions × depth × outputs, one thread),
/// of 1- and 2-bit weights at batch 1 through the int8 GEMM and the lookup-table GEMV, and of W1A1 XOR/popcount,
/// against the single-thread int8 multiply-add peak of this machine measured by a tight register-only loop of
/// the same instruction pair the kernel uses (vpmaddubsw + vpmaddwd + vpaddd) on the widest vectors .NET offers here
/// (512 bits, or 256 on a CPU without AVX-512, where the kernels run their AVX2 paths). Where .NET offers AVX-VNNI
/// (256-bit vpdpbusd; there is no AVX-512 VNNI class), its peak is probed the same way and the int8 GEMM on
/// full-range bytes, which only the VNNI path computes exactly, is measured against it.
/// </summary>
internal static class KernelMicrobenchmark
{
    public static IReadOnlyList<KernelRow> Run() => Run(ProbePeakGops(), ProbeFloatPeakGflops());

    /// <summary>The kernels against peaks probed already (<see cref="ProbePeakGops"/>, <see cref="ProbeFloatPeakGflops"/>), so that a report quotes one figure of each.</summary>
    public static IReadOnlyList<KernelRow> Run(double peak, double floatPeak)
    {
        var rows = new List<KernelRow>
        {
            new($"int8 multiply-add peak probe ({VectorWidth}, 1 thread)", "registers only", peak, 1),
            // What FP32 scoring (ONNX Runtime's) is bounded by, as a share of the int8 peak.
            new($"FP32 FMA peak probe ({VectorWidth}, 1 thread)", "registers only", floatPeak, floatPeak / peak),
        };
        foreach (var (positions, depth, outputs) in new[] { (64, 512, 512), (1, 128, 512), (1, 4096, 4096) })
        {
            foreach (var (name, levels) in new[] { ("int8 GEMM (8-bit weights)", 255), ("2-bit GEMM (4 levels)", 4) })
            {
                var random = new Random(1);
                var table = levels == 255 ? Enumerable.Range(-127, 255).ToArray() : new[] { -3, -1, 1, 3 };
                var codes = Enumerable.Range(0, outputs * depth).Select(_ => (byte)random.Next(table.Length)).ToArray();
                var w = Int8Weights.FromCodes(codes, table, outputs, depth);
                int maxActivation = levels == 255 ? 127 : 6;
                var x = Enumerable.Range(0, positions * w.PaddedDepth).Select(_ => (byte)random.Next(maxActivation + 1)).ToArray();
                var c = new int[positions * w.PaddedOutputs];
                // The bound the data keeps to: without it the kernel must assume full-range bytes, which the AVX-512BW path cannot
                // sum exactly, and a CPU without AVX-VNNI (an AMD EPYC of 2026-12-04) measured the scalar fallback instead.
                double seconds = Best(() => Int8Gemm.Multiply(w, x, w.PaddedDepth, positions, c, w.PaddedOutputs, maxActivation));
                double gops = 2.0 * positions * depth * outputs / seconds / 1e9;
                rows.Add(new KernelRow(name, $"{positions}×{depth}×{outputs}", gops, gops / peak));
            }
        }
        rows.AddRange(Vnni());
        rows.AddRange(Batch1Lookups(peak));
        rows.Add(XorPopcount(peak));
        return rows;
    }

    /// <summary>The VNNI peak probe and the int8 GEMM (8-bit weights on activations over the whole byte range) through the VNNI path, against that peak.</summary>
    private static IEnumerable<KernelRow> Vnni()
    {
        if (!Int8Gemm.IsAvx2VnniAccelerated) yield break;
        const long iterations = 20_000_000;
        double peak = 2.0 * 32 * 8 * (iterations / 10) / Best(() => VnniChains(iterations / 10)) / 1e9;
        yield return new KernelRow("AVX-VNNI vpdpbusd peak probe (256-bit, 1 thread)", "registers only", peak, 1);
        const int positions = 64, depth = 512, outputs = 512;
        var random = new Random(4);
        var codes = Enumerable.Range(0, outputs * depth).Select(_ => (byte)random.Next(255)).ToArray();
        var w = Int8Weights.FromCodes(codes, Enumerable.Range(-127, 255).ToArray(), outputs, depth);
        var x = Enumerable.Range(0, positions * w.PaddedDepth).Select(_ => (byte)random.Next(256)).ToArray();
        var c = new int[positions * w.PaddedOutputs];
        // The VNNI path for full-range bytes: its 512-bit unpacking with AVX-512, the AVX2 tile's without.
        double gops = 2.0 * positions * depth * outputs / Best(() => Int8Gemm.Multiply(w, x, w.PaddedDepth, positions, c, w.PaddedOutputs, 255)) / 1e9;
        yield return new KernelRow("int8 GEMM, full-range bytes (VNNI path)", $"{positions}×{depth}×{outputs}", gops, gops / peak);
    }

    /// <summary>Eight independent vpdpbusd chains on 256-bit registers; 32 multiply-adds each.</summary>
    private static int VnniChains(long iterations)
    {
        var a = Vector256.Create((byte)3);
        var w = Vector256.Create((sbyte)2);
        Vector256<int> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (long i = 0; i < iterations; i++)
        {
            a += Vector256<byte>.One; // keeps the products from being hoisted out of the loop
            c0 = AvxVnni.MultiplyWideningAndAdd(c0, a, w);
            c1 = AvxVnni.MultiplyWideningAndAdd(c1, a, w);
            c2 = AvxVnni.MultiplyWideningAndAdd(c2, a, w);
            c3 = AvxVnni.MultiplyWideningAndAdd(c3, a, w);
            c4 = AvxVnni.MultiplyWideningAndAdd(c4, a, w);
            c5 = AvxVnni.MultiplyWideningAndAdd(c5, a, w);
            c6 = AvxVnni.MultiplyWideningAndAdd(c6, a, w);
            c7 = AvxVnni.MultiplyWideningAndAdd(c7, a, w);
        }
        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7);
    }

    /// <summary>1- and 2-bit weights at batch 1: the int8 GEMM with unpacked codes against the lookup-table GEMV, side by side.</summary>
    private static IEnumerable<KernelRow> Batch1Lookups(double peak)
    {
        const int depth = 4096, outputs = 4096;
        foreach (var (bits, table, maxX) in new[] { (2, new[] { -3, -1, 1, 3 }, 7), (1, new[] { -1, 1 }, 3) })
        {
            var random = new Random(2);
            var codes = Enumerable.Range(0, outputs * depth).Select(_ => (byte)random.Next(table.Length)).ToArray();
            var x = Enumerable.Range(0, depth).Select(_ => (byte)random.Next(maxX + 1)).ToArray();
            var lookup = LookupWeights.FromCodes(codes, table, outputs, depth);
            var c = new int[lookup.PaddedOutputs];
            if (bits == 1) // the 2-bit int8 row at this shape is measured above
            {
                var int8 = Int8Weights.FromCodes(codes, table, outputs, depth);
                double gemm = 2.0 * depth * outputs / Best(() => Int8Gemm.Multiply(int8, x, int8.PaddedDepth, 1, c, int8.PaddedOutputs)) / 1e9;
                yield return new KernelRow("1-bit GEMM (2 levels)", $"1×{depth}×{outputs}", gemm, gemm / peak);
            }
            var padded = new byte[lookup.PaddedDepth];
            x.CopyTo(padded, 0);
            double gemv = 2.0 * depth * outputs / Best(() => LookupGemv.Multiply(lookup, padded, c, maxX)) / 1e9;
            yield return new KernelRow($"{bits}-bit lookup-table GEMV (T-MAC style)", $"1×{depth}×{outputs}", gemv, gemv / peak);
        }
    }

    /// <summary>W1A1 by XOR and popcount over 512-channel bit rows, one tap.</summary>
    private static KernelRow XorPopcount(double peak)
    {
        const int positions = 64, depth = 512, outputs = 512;
        var random = new Random(3);
        var w = BinaryWeights.FromSigns(Enumerable.Range(0, outputs * depth).Select(_ => random.Next(2) == 1).ToArray(), outputs, 1, depth);
        var sign = Enumerable.Range(0, positions * w.Words).Select(_ => (ulong)random.NextInt64()).ToArray();
        var nonzero = Enumerable.Repeat(ulong.MaxValue, sign.Length).ToArray();
        var starts = Enumerable.Range(0, positions).Select(p => p * w.Words).ToArray();
        var c = new int[positions * w.PaddedOutputs];
        double gops = 2.0 * positions * depth * outputs / Best(() => BinaryGemm.Multiply(w, sign, nonzero, new[] { 0 }, starts, c, w.PaddedOutputs)) / 1e9;
        return new KernelRow("W1A1 XOR/popcount", $"{positions}×{depth}×{outputs}", gops, gops / peak);
    }

    /// <summary>The microbenchmark alone: kernels.{md,json} in <paramref name="outDir"/>.</summary>
    public static int Write(string outDir)
    {
        var rows = Run();
        string markdown = Markdown(rows);
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "kernels.md"), "# GEMM kernels against the machine's int8 multiply-add peak (one thread, one run)\n\n" +
            "Command: `dotnet run --project src/Samples/Benchmarks -c Release -- kernels`\n\n" + markdown);
        // A machine without SIMD has no peak to probe: its shares are NaN, which JSON spells as a string.
        File.WriteAllText(Path.Combine(outDir, "kernels.json"), System.Text.Json.JsonSerializer.Serialize(rows, new System.Text.Json.JsonSerializerOptions
        {
            WriteIndented = true,
            NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        }));
        Console.WriteLine(markdown);
        return 0;
    }

    public static string Markdown(IReadOnlyList<KernelRow> rows) =>
        "| kernel | shape (positions × depth × outputs) | GOPS | share of peak |\n|---|---|---:|---:|\n" +
        string.Join("\n", rows.Select(r => $"| {r.Kernel} | {r.Shape} | {r.Gops:F1} | {r.ShareOfPeak:P0} |")) + "\n";

    /// <summary>Best time in seconds of repeated runs lasting at least 0.3 s in all.</summary>
    private static double Best(Action action)
    {
        action();
        double best = double.MaxValue;
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < 0.3)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return best;
    }

    /// <summary>The widest vectors the probes run on here: 512 bits with AVX-512, 256 with AVX2 alone (a CPU of Intel's client line, or <c>DOTNET_EnableAVX512=0</c>).</summary>
    internal static string VectorWidth => Avx512BW.IsSupported ? "512-bit" : Avx2.IsSupported ? "256-bit" : "no SIMD";

    /// <summary>
    /// The single-thread FP32 peak in GFLOPS (2 per multiply-add): twelve independent chains of fused multiply-adds on the
    /// widest vectors (<see cref="VectorWidth"/>), enough to cover the instruction's latency on both FMA pipes; NaN without them.
    /// </summary>
    internal static double ProbeFloatPeakGflops()
    {
        const long iterations = 2_000_000;
        if (Avx512F.IsSupported) return 2.0 * 16 * 12 * iterations / Best(() => FloatChains(iterations)) / 1e9;
        return Avx2.IsSupported && Fma.IsSupported ? 2.0 * 8 * 12 * iterations / Best(() => FloatChains256(iterations)) / 1e9 : double.NaN;
    }

    // Not inlined: inlined into a caller that drops its result, the JIT removed the multiply-adds (12x the peak, in tier 1).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static float FloatChains(long iterations)
    {
        var a = Vector512.Create(0.999f);
        var b = Vector512.Create(1e-3f);
        // Each chain starts elsewhere, so that no two are one expression.
        Vector512<float> c0 = Vector512.Create(0f), c1 = Vector512.Create(1f), c2 = Vector512.Create(2f), c3 = Vector512.Create(3f);
        Vector512<float> c4 = Vector512.Create(4f), c5 = Vector512.Create(5f), c6 = Vector512.Create(6f), c7 = Vector512.Create(7f);
        Vector512<float> c8 = Vector512.Create(8f), c9 = Vector512.Create(9f), c10 = Vector512.Create(10f), c11 = Vector512.Create(11f);
        for (long i = 0; i < iterations; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, a, b); c1 = Vector512.FusedMultiplyAdd(c1, a, b); c2 = Vector512.FusedMultiplyAdd(c2, a, b);
            c3 = Vector512.FusedMultiplyAdd(c3, a, b); c4 = Vector512.FusedMultiplyAdd(c4, a, b); c5 = Vector512.FusedMultiplyAdd(c5, a, b);
            c6 = Vector512.FusedMultiplyAdd(c6, a, b); c7 = Vector512.FusedMultiplyAdd(c7, a, b); c8 = Vector512.FusedMultiplyAdd(c8, a, b);
            c9 = Vector512.FusedMultiplyAdd(c9, a, b); c10 = Vector512.FusedMultiplyAdd(c10, a, b); c11 = Vector512.FusedMultiplyAdd(c11, a, b);
        }
        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    /// <summary><see cref="FloatChains"/> on 256-bit vectors.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static float FloatChains256(long iterations)
    {
        var a = Vector256.Create(0.999f);
        var b = Vector256.Create(1e-3f);
        Vector256<float> c0 = Vector256.Create(0f), c1 = Vector256.Create(1f), c2 = Vector256.Create(2f), c3 = Vector256.Create(3f);
        Vector256<float> c4 = Vector256.Create(4f), c5 = Vector256.Create(5f), c6 = Vector256.Create(6f), c7 = Vector256.Create(7f);
        Vector256<float> c8 = Vector256.Create(8f), c9 = Vector256.Create(9f), c10 = Vector256.Create(10f), c11 = Vector256.Create(11f);
        for (long i = 0; i < iterations; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, a, b); c1 = Vector256.FusedMultiplyAdd(c1, a, b); c2 = Vector256.FusedMultiplyAdd(c2, a, b);
            c3 = Vector256.FusedMultiplyAdd(c3, a, b); c4 = Vector256.FusedMultiplyAdd(c4, a, b); c5 = Vector256.FusedMultiplyAdd(c5, a, b);
            c6 = Vector256.FusedMultiplyAdd(c6, a, b); c7 = Vector256.FusedMultiplyAdd(c7, a, b); c8 = Vector256.FusedMultiplyAdd(c8, a, b);
            c9 = Vector256.FusedMultiplyAdd(c9, a, b); c10 = Vector256.FusedMultiplyAdd(c10, a, b); c11 = Vector256.FusedMultiplyAdd(c11, a, b);
        }
        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    /// <summary>
    /// Eight independent accumulation chains of the kernel's instruction pair on the widest vectors (<see cref="VectorWidth"/>):
    /// 64 multiply-adds per pair on 512 bits, 32 on 256; NaN without them.
    /// </summary>
    internal static double ProbePeakGops()
    {
        const long iterations = 2_000_000;
        if (Avx512BW.IsSupported) return 2.0 * 64 * 8 * iterations / Best(() => Chains(iterations)) / 1e9;
        return Avx2.IsSupported ? 2.0 * 32 * 8 * iterations / Best(() => Chains256(iterations)) / 1e9 : double.NaN;
    }

    private static int Chains(long iterations)
    {
        var ones = Vector512.Create((short)1);
        var a = Vector512.Create((byte)3);
        var w = Vector512.Create((sbyte)2);
        var step = Vector512.Create((sbyte)1);
        Vector512<int> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (long i = 0; i < iterations; i++)
        {
            w = Avx512BW.Add(w, step); // keeps the products from being hoisted out of the loop
            c0 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, w), ones);
            c1 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, Avx512BW.Add(w, step)), ones);
            c2 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, Avx512BW.Subtract(w, step)), ones);
            c3 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, Avx512BW.Xor(w.AsByte(), a).AsSByte()), ones);
            c4 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Avx512BW.Add(a, a), w), ones);
            c5 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Avx512BW.Xor(a, w.AsByte()), w), ones);
            c6 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(a, Avx512BW.Abs(w).AsSByte()), ones);
            c7 += Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(Avx512BW.Or(a, w.AsByte()), w), ones);
        }
        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7);
    }

    /// <summary><see cref="Chains"/> on 256-bit vectors (AVX2's vpmaddubsw + vpmaddwd).</summary>
    private static int Chains256(long iterations)
    {
        var ones = Vector256.Create((short)1);
        var a = Vector256.Create((byte)3);
        var w = Vector256.Create((sbyte)2);
        var step = Vector256.Create((sbyte)1);
        Vector256<int> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (long i = 0; i < iterations; i++)
        {
            w = Avx2.Add(w, step);
            c0 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, w), ones);
            c1 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Add(w, step)), ones);
            c2 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Subtract(w, step)), ones);
            c3 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Xor(w.AsByte(), a).AsSByte()), ones);
            c4 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Add(a, a), w), ones);
            c5 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Xor(a, w.AsByte()), w), ones);
            c6 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(a, Avx2.Abs(w).AsSByte()), ones);
            c7 += Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Or(a, w.AsByte()), w), ones);
        }
        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7);
    }
}
