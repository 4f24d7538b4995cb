using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.MLNet.Data;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Serialization.Onnx;
using Microsoft.ML.Quantization.Training;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>
/// Scoring speed and size, all measured in one run: TorchSharp FP32 (eval, no grad), ONNX Runtime FP32 (the same
/// weights through the ONNX export) and ONNX Runtime int8 (the QDQ export of the W8A8 network, optimised by ONNX Runtime
/// at its default, highest level, with its label agreement with the packed runtime) against the packed
/// runtime in FP32 and at W8A8, W4A4, W2A2 and W1A1, at batch 1 (median latency, one thread) and batch 64
/// (throughput, two threads for both), on VggSmall, ResNet20 and TextLstm. Weights are seeded random with
/// BatchNorm statistics and activation grids taken from real inputs: speed does not depend on training.
/// </summary>
internal static class ScoringBenchmark
{
    /// <summary>The packed configurations every scoring benchmark measures (null: FP32).</summary>
    internal static readonly (string Name, QagOptions? Options)[] Configurations =
    {
        ("FP32", null),
        // FixedQ-8 weights are int8 with zero points 0 and ZoomQ-8 activations uint8: the QDQ form ONNX Runtime fuses into its int8 kernels.
        ("W8A8", new QagOptions
        {
            Weights = new QuantizerSpec(QuantizationScheme.FixedQ, 8, QuantizationGranularity.PerOutputChannel),
            Activations = new QuantizerSpec(QuantizationScheme.ZoomQ, 8),
        }),
        ("W4A4", Qag(QuantizationScheme.ClipQ, 4)),
        ("W2A2", Qag(QuantizationScheme.ClipQ, 2)),
        ("W1A1", Qag(QuantizationScheme.Binary, 1)),
    };

    /// <param name="only">Models to measure (null: all); a partial run is for quick checks, not for the kept output.</param>
    public static int Run(string outDir, string imageSubset, int repeats, IReadOnlyCollection<string>? only = null)
    {
        set_num_threads(2);
        var rows = new List<ScoringRow>();
        var images = IdxReader.ReadImages(imageSubset).Images.Take(256).Select(i => i.Select(b => b / 255f).ToArray()).ToArray();
        var random = new Random(5);
        var cifar = Enumerable.Range(0, 256).Select(_ => Enumerable.Range(0, 3 * 32 * 32).Select(_ => (float)random.NextDouble()).ToArray()).ToArray();
        var tokens = Tokens();
        foreach (var (model, graph, inputs) in new[]
        {
            ("VggSmall", NetworkGraphs.VggSmall(), images),
            ("ResNet20", NetworkGraphs.ResNet20(), cifar),
            ("TextLstm", NetworkGraphs.TextLstm(20_000, 128), tokens),
        })
        {
            if (only is not null && !only.Contains(model)) continue;
            foreach (var (config, options) in Configurations)
            {
                var g = options is null ? graph : Microsoft.ML.Quantization.Graph.Qag.Prepare(graph, options);
                using var scope = NewDisposeScope();
                var module = Prepared(g, inputs);
                var exported = ModelExporter.Export(module);
                var network = new PackedNetwork(exported);
                long bytes = FileBytes(exported);
                if (config == "FP32")
                {
                    var (torch1, torch64) = MeasureTorch(module, inputs, repeats);
                    rows.Add(new ScoringRow(model, "TorchSharp FP32", torch1, double.NaN, torch64, bytes, "libtorch"));
                    var (onnx1, onnx64) = MeasureOnnx(OnnxExporter.Export(exported), graph, inputs, repeats);
                    rows.Add(new ScoringRow(model, "ONNX Runtime FP32", onnx1, double.NaN, onnx64, bytes, "onnxruntime"));
                }
                if (config == "W8A8") AddOnnxInt8(rows, model, exported, network, graph, inputs, repeats, bytes);
                var (latency, latency2, throughput) = MeasurePacked(network, inputs, repeats);
                string kernels = string.Join(", ", network.Kernels.Select(k => k.Kernel).Distinct());
                rows.Add(new ScoringRow(model, $"packed {config}", latency, latency2, throughput, bytes, kernels));
                Console.WriteLine($"{model,-9} {rows[^1].Configuration,-16} batch-1 {latency,8:F3} ms ({latency2:F3} ms on 2 threads)  batch-64 {throughput,9:F0}/s  {bytes,10:N0} B  [{kernels}]");
            }
        }
        var kernelRows = KernelMicrobenchmark.Run();
        Write(outDir, rows, kernelRows);
        return 0;
    }

    /// <summary>
    /// ONNX Runtime int8: the W8A8 network's QDQ export, measured like the FP32 export, with the share of the inputs on which it
    /// gives the packed runtime's label. A network without a QDQ form (an LSTM that quantizes its state) gets no row.
    /// </summary>
    private static void AddOnnxInt8(List<ScoringRow> rows, string model, ExportedModel exported, PackedNetwork network, NetworkGraph graph, float[][] inputs, int repeats, long bytes)
    {
        byte[] qdq;
        try
        {
            qdq = OnnxExporter.Export(exported);
        }
        catch (NotSupportedException e)
        {
            Console.WriteLine($"{model,-9} ONNX Runtime int8: no QDQ form ({e.Message})");
            return;
        }
        var (latency, perSecond) = MeasureOnnx(qdq, graph, inputs, repeats);
        using var session = new InferenceSession(qdq);
        var logits = new float[network.OutputLength];
        int agree = 0;
        foreach (var chunk in inputs.Chunk(64))
        {
            var flat = chunk.SelectMany(x => x).ToArray();
            using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(flat, graph.InputShape.Prepend(chunk.Length).ToArray())) });
            var onnx = results.First().AsTensor<float>().ToArray();
            for (int i = 0; i < chunk.Length; i++)
            {
                network.Score(chunk[i], logits);
                agree += ArgMax(logits) == ArgMax(onnx.AsSpan(i * logits.Length, logits.Length)) ? 1 : 0;
            }
        }
        rows.Add(new ScoringRow(model, "ONNX Runtime int8", latency, double.NaN, perSecond, bytes, "onnxruntime (QDQ W8A8)") { LabelAgreement = (double)agree / inputs.Length });
        Console.WriteLine($"{model,-9} ONNX Runtime int8 batch-1 {latency,8:F3} ms  batch-64 {perSecond,9:F0}/s  labels as packed W8A8 on {agree} of {inputs.Length}");
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>256 seeded random texts of 128 token ids from a 20,000-word vocabulary (speed does not depend on the words).</summary>
    internal static float[][] Tokens()
    {
        var random = new Random(6);
        return Enumerable.Range(0, 256).Select(_ => Enumerable.Range(0, 128).Select(_ => (float)random.Next(2, 20_000)).ToArray()).ToArray();
    }

    private static QagOptions Qag(QuantizationScheme scheme, int bits) => new()
    {
        Weights = new QuantizerSpec(scheme, bits, QuantizationGranularity.PerOutputChannel),
        Activations = new QuantizerSpec(scheme, bits),
    };

    /// <summary>A seeded module with BatchNorm statistics from the inputs and calibrated quantizers, in eval mode.</summary>
    internal static GraphModule Prepared(NetworkGraph graph, float[][] inputs)
    {
        random.manual_seed(3);
        var module = new GraphModule(graph);
        using var batch = Batch(graph, inputs);
        using (var _ = no_grad())
        {
            module.train();
            for (int i = 0; i < 3; i++) module.call(batch).Dispose();
        }
        module.Calibrate(batch);
        module.eval();
        return module;
    }

    private static Tensor Batch(NetworkGraph graph, float[][] inputs)
    {
        var shape = graph.InputShape.Select(d => (long)d).Prepend(inputs.Length).ToArray();
        var flat = tensor(inputs.SelectMany(x => x).ToArray()).reshape(shape);
        return graph.Nodes[0].Kind == NodeKind.Embedding ? flat.to(int64) : flat;
    }

    /// <summary>TorchSharp at its best: batch-1 latency with one and with two intra-op threads, the lower kept; batch 64 on two.</summary>
    private static (double LatencyMs, double PerSecond) MeasureTorch(GraphModule module, float[][] inputs, int repeats)
    {
        using var _ = no_grad();
        var singles = inputs.Take(16).Select(x => Batch(module.Graph, new[] { x })).ToArray();
        var batch = Batch(module.Graph, inputs.Take(64).ToArray());
        double latency = double.MaxValue;
        foreach (int threads in new[] { 1, 2 })
        {
            set_num_threads(threads);
            latency = Math.Min(latency, Median(repeats, i => { using var y = module.call(singles[i % singles.Length]); }));
        }
        set_num_threads(2);
        double seconds = Median(Math.Max(3, repeats / 5), _ => { using var y = module.call(batch); }) / 1000;
        return (latency, 64 / seconds);
    }

    /// <summary>ONNX Runtime at its best: batch-1 latency with one and with two intra-op threads, the lower kept; batch 64 on two.</summary>
    private static (double LatencyMs, double PerSecond) MeasureOnnx(byte[] onnx, NetworkGraph graph, float[][] inputs, int repeats)
    {
        bool tokens = graph.Nodes[0].Kind == NodeKind.Embedding;
        NamedOnnxValue[] Input(float[][] examples)
        {
            var shape = graph.InputShape.Prepend(examples.Length).ToArray();
            var flat = examples.SelectMany(x => x).ToArray();
            return new[] { tokens
                ? NamedOnnxValue.CreateFromTensor("input", new DenseTensor<long>(flat.Select(v => (long)v).ToArray(), shape))
                : NamedOnnxValue.CreateFromTensor("input", new DenseTensor<float>(flat, shape)) };
        }
        var singles = inputs.Take(16).Select(x => Input(new[] { x })).ToArray();
        var batch = Input(inputs.Take(64).ToArray());
        double latency = double.MaxValue, seconds = 0;
        foreach (int threads in new[] { 1, 2 })
        {
            using var options = new SessionOptions { IntraOpNumThreads = threads };
            using var session = new InferenceSession(onnx, options);
            latency = Math.Min(latency, Median(repeats, i => { using var r = session.Run(singles[i % singles.Length]); }));
            if (threads == 2) seconds = Median(Math.Max(3, repeats / 5), _ => { using var r = session.Run(batch); }) / 1000;
        }
        return (latency, 64 / seconds);
    }

    private static (double LatencyMs, double TwoThreadLatencyMs, double PerSecond) MeasurePacked(PackedNetwork network, float[][] inputs, int repeats)
    {
        var logits = new float[64 * network.OutputLength];
        double latency = Median(repeats, i => network.Score(inputs[i % 16], logits.AsSpan(0, network.OutputLength)));
        double latency2 = Median(repeats, i => network.Score(inputs[i % 16], logits.AsSpan(0, network.OutputLength), threads: 2));
        var batch = inputs.Take(64).SelectMany(x => x).ToArray();
        double seconds = Median(Math.Max(3, repeats / 5), _ => network.ScoreBatch(batch, 64, logits, threads: 2)) / 1000;
        return (latency, latency2, 64 / seconds);
    }

    /// <summary>Median wall time in milliseconds of <paramref name="count"/> calls, after a warm-up of at least a second (so the JIT has tiered up).</summary>
    private static double Median(int count, Action<int> action)
    {
        var warmUp = Stopwatch.StartNew();
        for (int i = 0; i < 5 || warmUp.Elapsed.TotalSeconds < 1; i++) action(i);
        var times = new double[count];
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action(i);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        Array.Sort(times);
        return times[count / 2];
    }

    private static long FileBytes(ExportedModel model)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) ExportedModelFormat.Write(writer, model);
        return stream.Length;
    }

    private static void Write(string outDir, List<ScoringRow> rows, IReadOnlyList<KernelRow> kernels)
    {
        Directory.CreateDirectory(outDir);
        var md = new System.Text.StringBuilder();
        md.AppendLine("# Scoring: TorchSharp FP32 and ONNX Runtime FP32 and int8 against the packed runtime");
        md.AppendLine();
        md.AppendLine("Command: `dotnet run --project src/Samples/Benchmarks -c Release -- scoring`. One run, this machine (2 cores, AVX-512);");
        md.AppendLine("batch 1: median latency; TorchSharp and ONNX Runtime with 1 or 2 intra-op threads, whichever was faster; the packed runtime on one thread and, in its own column, with its large layers shared by 2 threads; the ratios take each row's faster figure. Batch 64: throughput on 2 threads for all.");
        md.AppendLine("Model bytes: the exported model as stored in model.zip (TorchSharp row: the same FP32 export).");
        md.AppendLine("ONNX Runtime int8: the QDQ export of the packed W8A8 network (FixedQ-8 weights, int8 per channel; ZoomQ-8 activations, uint8), optimised by ONNX Runtime at its default level; \"labels\" is the share of the 256 inputs on which it gives the packed W8A8 network's label. TextLstm has none: its LSTM quantizes its recurrent state, which ONNX's LSTM cannot.");
        md.AppendLine();
        md.AppendLine("| model | configuration | batch-1 latency (ms) | batch-1, 2 threads (ms) | vs TorchSharp | vs ONNX Runtime | vs ONNX Runtime int8 | batch-64 (examples/s) | vs TorchSharp | vs ONNX Runtime | vs ONNX Runtime int8 | model bytes | vs FP32 | labels | kernels |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var row in rows)
        {
            var torch = rows.First(r => r.Model == row.Model && r.Configuration == "TorchSharp FP32");
            var onnx = rows.First(r => r.Model == row.Model && r.Configuration == "ONNX Runtime FP32");
            var int8 = rows.FirstOrDefault(r => r.Model == row.Model && r.Configuration == "ONNX Runtime int8");
            string VsInt8(double ratio) => int8 is null ? "—" : $"{ratio:F2}×";
            md.AppendLine($"| {row.Model} | {row.Configuration} | {row.LatencyMs:F3} | {(double.IsNaN(row.TwoThreadLatencyMs) ? "—" : row.TwoThreadLatencyMs.ToString("F3"))} | {row.BestLatencyMs / torch.BestLatencyMs:F2}× | {row.BestLatencyMs / onnx.BestLatencyMs:F2}× | {VsInt8(row.BestLatencyMs / (int8?.BestLatencyMs ?? 1))} | {row.PerSecond:F0} | {row.PerSecond / torch.PerSecond:F2}× | {row.PerSecond / onnx.PerSecond:F2}× | {VsInt8(row.PerSecond / (int8?.PerSecond ?? 1))} | {row.ModelBytes:N0} | {(double)row.ModelBytes / torch.ModelBytes:F3} | {(row.LabelAgreement is { } a ? a.ToString("P1") : "")} | {row.Kernels} |");
        }
        md.AppendLine();
        md.AppendLine("## GEMM kernels against the machine's int8 multiply-add peak");
        md.AppendLine();
        md.AppendLine(KernelMicrobenchmark.Markdown(kernels));
        File.WriteAllText(Path.Combine(outDir, "scoring.md"), md.ToString());
        File.WriteAllText(Path.Combine(outDir, "scoring.json"), JsonSerializer.Serialize(new { models = rows, kernels }, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        Console.WriteLine(md);
    }
}

/// <summary>One measured configuration.</summary>
internal sealed record ScoringRow(string Model, string Configuration, double LatencyMs, double TwoThreadLatencyMs, double PerSecond, long ModelBytes, string Kernels)
{
    /// <summary>For an ONNX Runtime int8 row, the share of inputs on which it gives the packed W8A8 network's label.</summary>
    public double? LabelAgreement { get; init; }

    /// <summary>The faster batch-1 figure: one thread or two (TorchSharp and ONNX Runtime rows hold their faster one already).</summary>
    public double BestLatencyMs => double.IsNaN(TwoThreadLatencyMs) ? LatencyMs : Math.Min(LatencyMs, TwoThreadLatencyMs);
}
