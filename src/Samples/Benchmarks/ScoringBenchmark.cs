using System.Diagnostics;
using System.Runtime.Intrinsics.X86;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Serialization.Onnx;
using Microsoft.ML.Quantization.Training;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>
/// Scoring speed and size, all measured in one run on the same weights: TorchSharp FP32 (eval, no grad), ONNX Runtime FP32
/// (the ONNX export of the same weights) and ONNX Runtime int8 (the QDQ export of the W8A8 network, with its label agreement
/// with the packed runtime), both optimised at ONNX Runtime's highest graph level, against the packed runtime in FP32 and
/// at W8A8, W4A4, W2A2 and W1A1; batch 1 (latency) and batch 64 (throughput), each on 1 and on 2 threads, in interleaved
/// rounds; on every <see cref="ScoringModels"/> network. Weights are seeded random with BatchNorm statistics and
/// activation grids taken from the inputs: speed does not depend on training. The report adds each model's distance to
/// the probed int8 peak (<see cref="ScoringReport"/>).
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

    /// <param name="rounds">Interleaved rounds: each measures every configuration once on 1 and on 2 threads, in a rotating order.</param>
    /// <param name="only">Models to measure (null: all); a partial run is for quick checks, not for the kept output.</param>
    /// <param name="isas">Instruction sets (avx2, sse, scalar) whose packed W4A4 and W2A2 rows are measured again, each in a child
    /// process with .NET's switches set, beside ONNX Runtime FP32 in that process (which keeps its own dispatch).</param>
    /// <param name="childIsa">Set in such a child: the instruction set it runs as; it writes its rows to <paramref name="outDir"/>.</param>
    public static int Run(string outDir, string imageSubset, int rounds, IReadOnlyCollection<string>? only, IReadOnlyList<string> isas, string? childIsa = null)
    {
        if (rounds < 5) throw new UsageException($"--rounds {rounds}: at least 5 interleaved rounds are needed for a median and its spread.");
        var models = only?.ToList() ?? ScoringModels.Names.ToList();
        var unknown = models.Except(ScoringModels.Names).ToList();
        if (unknown.Count > 0) throw new UsageException($"unknown model(s) {string.Join(", ", unknown)}; models: {string.Join(", ", ScoringModels.Names)}");
        var badIsa = (childIsa is null ? isas : isas.Append(childIsa)).Except(IsaSwitches.Keys).ToList();
        if (badIsa.Count > 0) throw new UsageException($"unknown instruction set(s) {string.Join(", ", badIsa)}; --isa takes {string.Join(", ", IsaSwitches.Keys)} or none");
        if (childIsa is not null)
        {
            IsaSwitches[childIsa].Check();
            var childRows = models.Where(m => childIsa == "avx2" || m != "ResNet18")
                .SelectMany(m => MeasureModel(m, imageSubset, rounds, new[] { "W4A4", "W2A2" }, childIsa).Rows).ToList();
            Directory.CreateDirectory(outDir);
            File.WriteAllText(Path.Combine(outDir, "rows.json"), JsonSerializer.Serialize(childRows));
            return 0;
        }
        double int8Peak = KernelMicrobenchmark.ProbePeakGops(), floatPeak = KernelMicrobenchmark.ProbeFloatPeakGflops();
        var rows = new List<ScoringRow>();
        var limits = new List<LayerLimit>();
        foreach (string model in models)
        {
            var (modelRows, modelLimits) = MeasureModel(model, imageSubset, rounds, Configurations.Select(c => c.Name).ToArray(), null);
            rows.AddRange(modelRows);
            limits.AddRange(modelLimits);
        }
        var isaRows = isas.SelectMany(isa => RunChild(isa, outDir, rounds, models)).ToList();
        var kernelRows = KernelMicrobenchmark.Run(int8Peak, floatPeak);
        ScoringReport.Write(outDir, rows, isaRows, limits, kernelRows, int8Peak, floatPeak, rounds);
        return 0;
    }

    /// <summary>The .NET switches that take the runtime off AVX-512 (onto its AVX2 paths), off AVX2 (onto its 128-bit paths, Arm64's source) or off every SIMD path, and a check that they took.</summary>
    private static readonly Dictionary<string, (string Variable, Action Check)> IsaSwitches = new()
    {
        ["avx2"] = ("DOTNET_EnableAVX512", () => { if (Avx512F.IsSupported || !Avx2.IsSupported) throw new InvalidOperationException("The AVX2 run still sees AVX-512, or no AVX2."); }),
        ["sse"] = ("DOTNET_EnableAVX2", () => { if (Avx2.IsSupported || !Sse41.IsSupported) throw new InvalidOperationException("The 128-bit run still sees AVX2, or no SSE4.1."); }),
        ["scalar"] = ("DOTNET_EnableHWIntrinsic", () => { if (Sse2.IsSupported) throw new InvalidOperationException("The scalar run still sees SIMD."); }),
    };

    /// <summary>This benchmark again in a child process on instruction set <paramref name="isa"/>; its rows, relabelled with the set.</summary>
    private static IEnumerable<ScoringRow> RunChild(string isa, string outDir, int rounds, IReadOnlyList<string> models)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"mlquant-scoring-{isa}-{Environment.ProcessId}");
        var start = new ProcessStartInfo(Environment.ProcessPath!) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet") start.ArgumentList.Add(typeof(ScoringBenchmark).Assembly.Location);
        foreach (string arg in new[] { "scoring", "--isa-child", isa, "--rounds", rounds.ToString(), "--models", string.Join(",", models), "--out", dir }) start.ArgumentList.Add(arg);
        start.Environment[IsaSwitches[isa].Variable] = "0";
        Console.WriteLine($"{isa}: {start.FileName} {string.Join(" ", start.ArgumentList)} with {IsaSwitches[isa].Variable}=0");
        using (var child = Process.Start(start)!)
        {
            child.WaitForExit();
            if (child.ExitCode != 0) throw new InvalidOperationException($"The {isa} run exited with {child.ExitCode}.");
        }
        var rows = JsonSerializer.Deserialize<List<ScoringRow>>(File.ReadAllText(Path.Combine(dir, "rows.json")))!;
        Directory.Delete(dir, recursive: true);
        return rows.Select(r => r with { Configuration = $"{r.Configuration} ({isa})" });
    }

    /// <summary>
    /// One model's rows: TorchSharp FP32 (native runs only), ONNX Runtime FP32, ONNX Runtime int8 (where W8A8 is measured) and
    /// the packed <paramref name="configs"/>, in interleaved rounds; on a native run, also its heaviest layers at W2A2 and W4A4.
    /// </summary>
    private static (List<ScoringRow> Rows, List<LayerLimit> Limits) MeasureModel(string model, string imageSubset, int rounds, IReadOnlyCollection<string> configs, string? isa)
    {
        var (graph, inputs) = ScoringModels.Get(model, imageSubset);
        var counts = OperationCounts(graph);
        long ops = counts.Values.Sum();
        using var scope = NewDisposeScope();
        var contenders = new List<Contender>();
        var packed = new Dictionary<string, PackedNetwork>();
        foreach (var (config, options) in Configurations)
        {
            if (config != "FP32" && !configs.Contains(config)) continue;
            var g = options is null ? graph : Microsoft.ML.Quantization.Graph.Qag.Prepare(graph, options);
            var module = Prepared(g, inputs);
            var exported = ModelExporter.Export(module);
            var network = packed[config] = new PackedNetwork(exported);
            long bytes = FileBytes(exported);
            if (config == "FP32")
            {
                if (isa is null) contenders.Add(Torch(module, inputs, bytes));
                contenders.Add(Onnx("ONNX Runtime FP32", OnnxExporter.Export(exported), graph, inputs, bytes, "onnxruntime"));
            }
            if (config == "W8A8" && OnnxInt8(model, exported, network, graph, inputs, bytes) is { } int8) contenders.Add(int8);
            if (configs.Contains(config)) contenders.Add(Packed($"packed {config}", network, inputs, bytes));
            Console.WriteLine($"{model}: {config} prepared");
        }
        Measure(contenders, rounds);
        var rows = contenders.Select(c => c.Row(model, ops)).ToList();
        var limits = isa is not null ? new List<LayerLimit>()
            : new[] { "W2A2", "W4A4" }.SelectMany(config => HeaviestLayers(model, config, counts, packed[config], inputs[0])).ToList();
        foreach (var row in rows) Console.WriteLine($"{model,-9} {row.Configuration,-18} batch-1 {row.Latency[0].Median,8:F3} / {row.Latency[1].Median,8:F3} ms  batch-64 {row.Throughput[0].Median,9:F0} / {row.Throughput[1].Median,9:F0} /s  [{row.Kernels}]");
        return (rows, limits);
    }

    /// <summary>Multiply-add operations (2 per multiply-add) of one example, by node: convolutions, linear layers and LSTMs.</summary>
    internal static Dictionary<string, long> OperationCounts(NetworkGraph graph)
    {
        var shapes = ShapeInference.Infer(graph);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            var x = node.Inputs.Count > 0 ? shapes[node.Inputs[0]] : graph.InputShape.ToArray();
            var y = shapes[node.Name];
            long macs = node.Kind switch
            {
                NodeKind.Conv2d => (long)y[0] * y[1] * y[2] * (x[0] / node.Groups) * node.Kernel * node.Kernel,
                NodeKind.Linear => (long)x[0] * y[0],
                NodeKind.Lstm => (long)x[0] * 4 * node.Units * (x[1] + node.Units),
                _ => 0,
            };
            if (macs > 0) counts[node.Name] = 2 * macs;
        }
        return counts;
    }

    /// <summary>
    /// The three nodes with the most operations (<paramref name="counts"/>, from <see cref="OperationCounts"/>), each with the
    /// batch-1, one-thread median time of the packed steps that compute it (the step of that name, or its groups and their join).
    /// </summary>
    private static IEnumerable<LayerLimit> HeaviestLayers(string model, string config, IReadOnlyDictionary<string, long> counts, PackedNetwork network, float[] example)
    {
        var times = ScoringProfile.StepTimes(network, example, repeats: 50, threads: 1);
        var steps = network.Steps;
        foreach (var (node, ops) in counts.OrderByDescending(kv => kv.Value).Take(3))
        {
            var mine = Enumerable.Range(0, steps.Count).Where(i => NetworkCompiler.ComputesNode(steps[i].Name, node)).ToList();
            yield return new LayerLimit(model, config, node, ops, mine.Sum(i => times[i]), string.Join(", ", mine.Select(i => steps[i].Kernel).Distinct()));
        }
    }

    /// <summary>
    /// Interleaved rounds: in each, every contender (in an order rotated by one each round) takes a batch-1 block (the median
    /// of at least 5 calls and 0.15 s) and a batch-64 block (at least one call and 0.3 s) on 1, then on 2 threads; a second of
    /// calls first, so that every JIT has tiered up. Drift in the machine's speed lands on every contender alike.
    /// </summary>
    private static void Measure(List<Contender> contenders, int rounds)
    {
        foreach (var c in contenders)
        {
            foreach (int threads in new[] { 1, 2 })
            {
                Block(i => c.Single(i, threads), 10, 0.5);
                c.Batch(threads);
            }
        }
        for (int round = 0; round < rounds; round++)
        {
            for (int k = 0; k < contenders.Count; k++)
            {
                var c = contenders[(k + round) % contenders.Count];
                foreach (int threads in new[] { 1, 2 })
                {
                    c.Latency[threads - 1].Add(Block(i => c.Single(i, threads), 5, 0.15));
                    c.Throughput[threads - 1].Add(64 / (Block(_ => c.Batch(threads), 1, 0.3) / 1000));
                }
            }
            Console.WriteLine($"  round {round + 1}/{rounds}");
        }
    }

    /// <summary>The median milliseconds of calls to <paramref name="action"/>, at least <paramref name="calls"/> of them and <paramref name="seconds"/> in all.</summary>
    private static double Block(Action<int> action, int calls, double seconds)
    {
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        for (int i = 0; i < calls || total.Elapsed.TotalSeconds < seconds; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action(i);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>One engine and configuration under measurement: batch-1 and batch-64 calls on a given number of threads.</summary>
    private sealed class Contender(string configuration, long bytes, string kernels, Action<int, int> single, Action<int> batch)
    {
        public string Configuration => configuration;
        public Action<int, int> Single => single; // (example index, threads)
        public Action<int> Batch => batch; // (threads): the first 64 examples
        public List<double>[] Latency { get; } = { new(), new() }; // ms, one per round, by threads − 1
        public List<double>[] Throughput { get; } = { new(), new() }; // examples/s
        public double? LabelAgreement { get; init; }

        public ScoringRow Row(string model, long ops) => new(model, configuration, Latency.Select(Spread.Of).ToArray(), Throughput.Select(Spread.Of).ToArray(), bytes, kernels, ops) { LabelAgreement = LabelAgreement };
    }

    /// <summary>TorchSharp FP32 in eval mode without gradients, its intra-op threads set and its intermediates freed at each call.</summary>
    private static Contender Torch(GraphModule module, float[][] inputs, long bytes)
    {
        var singles = inputs.Take(16).Select(x => Batch(module.Graph, new[] { x })).ToArray();
        var batch = Batch(module.Graph, inputs.Take(64).ToArray());
        return new Contender("TorchSharp FP32", bytes, "libtorch",
            (i, threads) => { set_num_threads(threads); using var _ = no_grad(); using var call = NewDisposeScope(); module.call(singles[i % singles.Length]); },
            threads => { set_num_threads(threads); using var _ = no_grad(); using var call = NewDisposeScope(); module.call(batch); });
    }

    /// <summary>ONNX Runtime with one session per thread count, optimised at its highest graph level (ORT_ENABLE_ALL).</summary>
    private static Contender Onnx(string configuration, byte[] onnx, NetworkGraph graph, float[][] inputs, long bytes, string kernels, double? labels = null)
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
        var sessions = new[] { 1, 2 }.Select(threads => new InferenceSession(onnx, new SessionOptions
        {
            IntraOpNumThreads = threads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        })).ToArray();
        return new Contender(configuration, bytes, kernels,
            (i, threads) => { using var r = sessions[threads - 1].Run(singles[i % singles.Length]); },
            threads => { using var r = sessions[threads - 1].Run(batch); }) { LabelAgreement = labels };
    }

    private static Contender Packed(string configuration, PackedNetwork network, float[][] inputs, long bytes)
    {
        var logits = new float[64 * network.OutputLength];
        var batch = inputs.Take(64).SelectMany(x => x).ToArray();
        return new Contender(configuration, bytes, string.Join(", ", network.Kernels.Select(k => k.Kernel).Distinct()),
            (i, threads) => network.Score(inputs[i % 16], logits.AsSpan(0, network.OutputLength), threads),
            threads => network.ScoreBatch(batch, 64, logits, threads));
    }

    /// <summary>
    /// ONNX Runtime int8: the W8A8 network's QDQ export, with the share of the inputs on which it gives the packed runtime's
    /// label. A network without a QDQ form (an LSTM that quantizes its state) gets none.
    /// </summary>
    private static Contender? OnnxInt8(string model, ExportedModel exported, PackedNetwork network, NetworkGraph graph, float[][] inputs, long bytes)
    {
        byte[] qdq;
        try
        {
            qdq = OnnxExporter.Export(exported);
        }
        catch (NotSupportedException e)
        {
            Console.WriteLine($"{model,-9} ONNX Runtime int8: no QDQ form ({e.Message})");
            return null;
        }
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
        return Onnx("ONNX Runtime int8", qdq, graph, inputs, bytes, "onnxruntime (QDQ W8A8)", (double)agree / inputs.Length);
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    private static QagOptions Qag(QuantizationScheme scheme, int bits) => new()
    {
        Weights = new QuantizerSpec(scheme, bits, QuantizationGranularity.PerOutputChannel),
        Activations = new QuantizerSpec(scheme, bits),
    };

    /// <summary>
    /// A seeded module with BatchNorm statistics from the inputs and calibrated quantizers, in eval mode. The statistics and
    /// grids come from at most 4M input values (26 ResNet18 images, all 256 of the others), each pass's intermediates freed.
    /// </summary>
    internal static GraphModule Prepared(NetworkGraph graph, float[][] inputs)
    {
        random.manual_seed(3);
        var module = new GraphModule(graph);
        using var batch = Batch(graph, inputs.Take(Math.Max(1, 4_000_000 / inputs[0].Length)).ToArray());
        using (var _ = no_grad())
        {
            module.train();
            for (int i = 0; i < 3; i++)
            {
                using var pass = NewDisposeScope(); // the BatchNorm buffers it updates live outside it
                module.call(batch);
            }
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

    private static long FileBytes(ExportedModel model)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true)) ExportedModelFormat.Write(writer, model);
        return stream.Length;
    }
}
