using System.Diagnostics;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Training;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>
/// Where the packed runtime spends one batch-1 example of a <see cref="ScoringModels"/> network: the median time of every compiled step, run
/// alone over the workspace of a full forward, for each packed configuration of <see cref="ScoringBenchmark"/>.
/// </summary>
internal static class ScoringProfile
{
    public static int Run(string outDir, string imageSubset, int repeats, int threads, string model, string? only = null)
    {
        var (graph, images) = ScoringModels.Get(model, imageSubset);
        var md = new System.Text.StringBuilder($"# Where {model} batch-1 scoring spends its time\n\n");
        md.AppendLine($"Command: `dotnet run --project src/Samples/Benchmarks -c Release -- profile --model {model} --threads {threads}`. Median µs of each step run alone ({repeats} runs), one example, {threads} thread(s), and of the whole forward (`PackedNetwork.Score`).\n");
        foreach (var (config, options) in ScoringBenchmark.Configurations.Where(c => c.Options is not null && (only is null || c.Name == only)))
        {
            using var scope = NewDisposeScope();
            var network = new PackedNetwork(ModelExporter.Export(ScoringBenchmark.Prepared(Qag.Prepare(graph, options!), images)));
            var steps = network.Steps;
            var times = StepTimes(network, images[0], repeats, threads);
            var logits = new float[network.OutputLength];
            int next = 0;
            double forward = Median(repeats, () => network.Score(images[next++ % 16], logits, threads));
            var batch = images.Take(64).SelectMany(x => x).ToArray();
            var batchLogits = new float[64 * network.OutputLength];
            double perExample = Median(Math.Max(3, repeats / 10), () => network.ScoreBatch(batch, 64, batchLogits, threads)) / 64;
            md.AppendLine($"## {config}: {times.Sum():F1} µs in all; a whole forward {forward:F1} µs; {perExample:F1} µs an example in a batch of 64\n");
            md.AppendLine("| step | kind | kernel | µs | share |\n|---|---|---|---:|---:|");
            for (int i = 0; i < steps.Count; i++)
                md.AppendLine($"| {steps[i].Name} | {steps[i].GetType().Name} | {steps[i].Kernel} | {times[i]:F1} | {times[i] / times.Sum():P0} |");
            md.AppendLine();
        }
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, $"profile-{model.ToLowerInvariant()}-{threads}t.md"), md.ToString());
        Console.Write(md);
        return 0;
    }

    /// <summary>
    /// The median µs of every compiled step of <paramref name="network"/> run alone, <paramref name="repeats"/> times, over the
    /// workspace of a whole forward of <paramref name="example"/>, after a second of whole forwards (so the JIT has tiered up).
    /// </summary>
    internal static double[] StepTimes(PackedNetwork network, float[] example, int repeats, int threads)
    {
        var ws = network.NewWorkspace(example);
        ws.Threads = threads;
        var warmUp = Stopwatch.StartNew();
        while (warmUp.Elapsed.TotalSeconds < 1) foreach (var step in network.Steps) step.Run(ws);
        return network.Steps.Select(s => Median(repeats, () => s.Run(ws))).ToArray();
    }

    private static double Median(int count, Action action)
    {
        for (int i = 0; i < 20; i++) action();
        var times = new double[count];
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        Array.Sort(times);
        return times[count / 2];
    }
}
