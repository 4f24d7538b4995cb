using System.Text;
using System.Text.Json;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>The median of a configuration's interleaved rounds and their lowest and highest.</summary>
internal sealed record Spread(double Median, double Min, double Max)
{
    public static Spread Of(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        return new Spread(sorted[sorted.Length / 2], sorted[0], sorted[^1]);
    }
}

/// <summary>One measured configuration: batch-1 latency (ms) and batch-64 throughput (examples/s), each on 1 and 2 threads.</summary>
internal sealed record ScoringRow(string Model, string Configuration, Spread[] Latency, Spread[] Throughput, long ModelBytes, string Kernels, long Operations)
{
    /// <summary>For an ONNX Runtime int8 row, the share of inputs on which it gives the packed W8A8 network's label.</summary>
    public double? LabelAgreement { get; init; }

    /// <summary>The faster of the 1- and 2-thread batch-1 medians.</summary>
    public double BestLatency => Math.Min(Latency[0].Median, Latency[1].Median);
}

/// <summary>One of a model's three heaviest layers in a packed configuration: its operations and batch-1, one-thread time.</summary>
internal sealed record LayerLimit(string Model, string Configuration, string Layer, long Operations, double Microseconds, string Kernel)
{
    /// <summary>Operations per second in billions; null where the layer ran below the timer's resolution (a median of 0 µs).</summary>
    public double? Gops => Microseconds > 0 ? Operations / Microseconds / 1e3 : null;
}

/// <summary>scoring.md and scoring.json: the speed tables, the distance to the machine's limits, the kernel microbenchmark.</summary>
internal static class ScoringReport
{
    public static void Write(string outDir, IReadOnlyList<ScoringRow> rows, IReadOnlyList<ScoringRow> isaRows, IReadOnlyList<LayerLimit> layers, IReadOnlyList<KernelRow> kernels, double int8Peak, double floatPeak, int rounds)
    {
        var md = new StringBuilder();
        md.AppendLine("# Scoring: TorchSharp FP32 and ONNX Runtime FP32 and int8 against the packed runtime");
        md.AppendLine();
        md.AppendLine($"Command: `dotnet run --project src/Samples/Benchmarks -c Release -- scoring --rounds {rounds}`. One run on this machine ({Environment.ProcessorCount} cores); every configuration of a model on the same weights.");
        md.AppendLine($"Each figure is the median of {rounds} interleaved rounds (every configuration measured once per round, in a rotating order), with the lowest and highest round in brackets; a batch-1 round is the median of at least 5 calls and 0.15 s, a batch-64 round of at least one call and 0.3 s.");
        md.AppendLine("ONNX Runtime: intra-op threads as the column says, one inter-op thread, graph optimisation ORT_ENABLE_ALL. ONNX Runtime int8 is the QDQ export of the packed W8A8 network (FixedQ-8 weights, int8 per channel; ZoomQ-8 activations, uint8); \"labels\" is the share of the inputs on which it gives the packed W8A8 network's label. TextLstm has none: its LSTM quantizes its recurrent state, which ONNX's LSTM cannot.");
        md.AppendLine("Model bytes: the exported model as stored in model.zip (the TorchSharp and ONNX Runtime FP32 rows: the FP32 export). ResNet18 is the ResNet18-style network at 3×224×224 with random weights; ResNet20 runs on 3×32×32. Packed TextLstm holds more in memory than it stores: its input gates per token (20,000 tokens × 512 floats, 41 MB), which it computes when the network compiles and looks up instead of multiplying each sequence (\"token gate table\" in the kernels column).");
        md.AppendLine();
        md.AppendLine("## Batch 1: latency (ms)");
        md.AppendLine();
        md.AppendLine("| model | configuration | 1 thread | 2 threads | vs ONNX Runtime FP32 | vs ONNX Runtime int8 | model bytes | labels | kernels |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var row in rows)
        {
            var (fp32, int8) = Peers(rows, row.Model);
            md.AppendLine($"| {row.Model} | {row.Configuration} | {Figure(row.Latency[0], "F3")} | {Figure(row.Latency[1], "F3")} | {row.BestLatency / fp32.BestLatency:F2}× | {(int8 is null ? "—" : $"{row.BestLatency / int8.BestLatency:F2}×")} | {row.ModelBytes:N0} | {(row.LabelAgreement is { } a ? a.ToString("P1") : "")} | {row.Kernels} |");
        }
        md.AppendLine();
        md.AppendLine("Ratios compare each row's faster thread count with the peer's faster one; below 1 is faster.");
        md.AppendLine();
        md.AppendLine("## Batch 64: throughput (examples/s)");
        md.AppendLine();
        md.AppendLine("| model | configuration | 1 thread | 2 threads | vs ONNX Runtime FP32 (1 / 2 threads) | vs ONNX Runtime int8 (1 / 2 threads) |");
        md.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var row in rows)
        {
            var (fp32, int8) = Peers(rows, row.Model);
            string Versus(ScoringRow peer) => $"{row.Throughput[0].Median / peer.Throughput[0].Median:F2}× / {row.Throughput[1].Median / peer.Throughput[1].Median:F2}×";
            md.AppendLine($"| {row.Model} | {row.Configuration} | {Figure(row.Throughput[0], "F0")} | {Figure(row.Throughput[1], "F0")} | {Versus(fp32)} | {(int8 is null ? "—" : Versus(int8))} |");
        }
        md.AppendLine();
        md.AppendLine("Ratios at equal thread counts; above 1 is faster.");
        md.AppendLine();
        WriteLimits(md, rows, layers, int8Peak, floatPeak);
        if (isaRows.Count > 0) WriteIsaRows(md, rows, isaRows);
        md.AppendLine("## GEMM kernels against the machine's int8 multiply-add peak");
        md.AppendLine();
        md.AppendLine(KernelMicrobenchmark.Markdown(kernels));
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "scoring.md"), md.ToString());
        File.WriteAllText(Path.Combine(outDir, "scoring.json"), JsonSerializer.Serialize(new { rounds, int8PeakGops = int8Peak, floatPeakGflops = floatPeak, models = rows, otherInstructionSets = isaRows, heaviestLayers = layers, kernels },
            new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        Console.WriteLine(md);
    }

    /// <summary>
    /// Distance to the limit: achieved operations per second of the whole model against the probed peaks, what the issue's
    /// bar (batch 64 ≥ 2× ONNX Runtime FP32, batch 1 ≤ 0.5×) would need of the int8 peak, and the three heaviest layers.
    /// </summary>
    private static void WriteLimits(StringBuilder md, IReadOnlyList<ScoringRow> rows, IReadOnlyList<LayerLimit> layers, double int8Peak, double floatPeak)
    {
        md.AppendLine("## Distance to the limit");
        md.AppendLine();
        md.AppendLine($"Probed on this machine, one thread: int8 multiply-add peak {int8Peak:F0} GOPS (vpmaddubsw + vpmaddwd + vpaddd; .NET 10 exposes no 512-bit VNNI), FP32 FMA peak {floatPeak:F0} GFLOPS. " +
            "Two threads: twice each. GOPS count 2 operations per multiply-add of the convolutions, linear layers and LSTMs (the same count for every row, whatever its bits).");
        md.AppendLine();
        md.AppendLine("| model | configuration | GOP per example | batch 64, 2 threads: GOPS | share of 2-thread peak | batch 1: GOPS (faster threads) | share of that peak | needed for 2× ONNX Runtime FP32 at batch 64 | needed for 0.5× its batch-1 latency |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows.Where(r => r.Configuration is "ONNX Runtime FP32" or "ONNX Runtime int8" or "packed W4A4" or "packed W2A2"))
        {
            var (fp32, _) = Peers(rows, row.Model);
            bool isFloat = row.Configuration == "ONNX Runtime FP32";
            double peak = isFloat ? floatPeak : int8Peak;
            double gop = row.Operations / 1e9;
            double batchGops = gop * row.Throughput[1].Median, singleGops = gop / (row.BestLatency / 1000);
            int singleThreads = row.Latency[1].Median < row.Latency[0].Median ? 2 : 1;
            double neededBatch = gop * 2 * fp32.Throughput[1].Median, neededSingle = gop / (0.5 * fp32.BestLatency / 1000);
            string Need(double gops, int threads) => isFloat ? "" : $"{gops:F0} GOPS = {gops / (threads * int8Peak):P0} of the {threads}-thread int8 peak";
            md.AppendLine($"| {row.Model} | {row.Configuration}{(isFloat ? " (against the FP32 peak)" : "")} | {gop:F3} | {batchGops:F0} | {batchGops / (2 * peak):P0} | {singleGops:F0} | {singleGops / (singleThreads * peak):P0} | {Need(neededBatch, 2)} | {Need(neededSingle, singleThreads)} |");
        }
        md.AppendLine();
        md.AppendLine("A need above 100 % of the int8 peak is out of reach of any int8 kernel on this machine; the 2- and 4-bit kernels pass it only where they pack several products into one byte multiply.");
        md.AppendLine();
        md.AppendLine("Each model's three heaviest layers, packed, batch 1, one thread (every compiled step of the layer, its fused epilogue included):");
        md.AppendLine();
        md.AppendLine("| model | configuration | layer | MOP | µs | GOPS | share of int8 peak | kernel |");
        md.AppendLine("|---|---|---|---:|---:|---:|---:|---|");
        foreach (var l in layers)
            md.AppendLine($"| {l.Model} | {l.Configuration} | {l.Layer} | {l.Operations / 1e6:F1} | {l.Microseconds:F1} | {(l.Gops is { } gops ? $"{gops:F0} | {gops / int8Peak:P0}" : "— | —")} | {l.Kernel} |");
        md.AppendLine();
    }

    /// <summary>The packed W4A4 and W2A2 rows measured again without AVX-512 (AVX2), without AVX2 (sse) and without SIMD (scalar), each beside ONNX Runtime FP32 in its own process.</summary>
    private static void WriteIsaRows(StringBuilder md, IReadOnlyList<ScoringRow> rows, IReadOnlyList<ScoringRow> isaRows)
    {
        md.AppendLine("## Without AVX-512: the AVX2, 128-bit and scalar paths");
        md.AppendLine();
        md.AppendLine("Each instruction set ran in a child process of the same run (`--isa avx2,sse,scalar`): `DOTNET_EnableAVX512=0` leaves .NET AVX2 (the packed runtime's AVX2 paths: the int8, int16 and float kernels, the activation encoders and epilogue, the LSTM gates, the max pool; average pooling and element-wise steps are portable loops on every path), " +
            "`DOTNET_EnableAVX2=0` SSE4.1 (the int8 kernel's 128-bit quad tile with SSSE3 pairs, the tile Arm64's `sdot` sums too; the int16 kernel's 128-bit path on the cross-platform `Vector128` API that Arm64 runs too; the rest scalar), `DOTNET_EnableHWIntrinsic=0` no SIMD at all (the int8 kernel sums in fields of 64-bit words, the int16 kernel two positions in the halves of one). " +
            "ONNX Runtime ignores these switches and keeps its own dispatch (AVX-512 here), so its row in each child is the same engine measured again beside it. The sse and scalar runs skip ResNet18.");
        md.AppendLine();
        md.AppendLine("| model | configuration | batch-1, 1 thread (ms) | batch-1, 2 threads (ms) | batch-64, 1 thread (/s) | batch-64, 2 threads (/s) | batch 64 vs ONNX Runtime FP32 (1 / 2 threads) | batch-64 slowdown against the native row (2 threads) | against the AVX2 row |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in isaRows)
        {
            string isa = row.Configuration[(row.Configuration.LastIndexOf('(') + 1)..^1];
            var onnx = isaRows.First(r => r.Model == row.Model && r.Configuration == $"ONNX Runtime FP32 ({isa})");
            string plain = row.Configuration[..row.Configuration.LastIndexOf(" (", StringComparison.Ordinal)];
            var native = rows.FirstOrDefault(r => r.Model == row.Model && r.Configuration == plain);
            var avx2 = isa == "avx2" ? null : isaRows.FirstOrDefault(r => r.Model == row.Model && r.Configuration == $"{plain} (avx2)");
            md.AppendLine($"| {row.Model} | {row.Configuration} | {Figure(row.Latency[0], "F3")} | {Figure(row.Latency[1], "F3")} | {Figure(row.Throughput[0], "F0")} | {Figure(row.Throughput[1], "F0")} | " +
                $"{row.Throughput[0].Median / onnx.Throughput[0].Median:F2}× / {row.Throughput[1].Median / onnx.Throughput[1].Median:F2}× | {(native is null ? "—" : $"{native.Throughput[1].Median / row.Throughput[1].Median:F1}×")} | {(avx2 is null ? "—" : $"{avx2.Throughput[1].Median / row.Throughput[1].Median:F1}×")} |");
        }
        md.AppendLine();
    }

    private static (ScoringRow Fp32, ScoringRow? Int8) Peers(IReadOnlyList<ScoringRow> rows, string model) =>
        (rows.First(r => r.Model == model && r.Configuration == "ONNX Runtime FP32"), rows.FirstOrDefault(r => r.Model == model && r.Configuration == "ONNX Runtime int8"));

    private static string Figure(Spread s, string format) => $"{s.Median.ToString(format)} [{s.Min.ToString(format)}–{s.Max.ToString(format)}]";
}
