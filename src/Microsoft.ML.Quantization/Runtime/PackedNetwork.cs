using System.Collections.Concurrent;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Runtime.Steps;
using Microsoft.ML.Quantization.Serialization;

namespace Microsoft.ML.Quantization.Runtime;

/// <summary>
/// A network compiled for scoring from an <see cref="ExportedModel"/>, with no torch type anywhere: packed
/// low-bit weights and integer kernels where the grids allow, BatchNorm folded into the preceding product,
/// frozen activation grids. Immutable after construction and safe to share across threads; each call takes
/// a pooled <see cref="Workspace"/>.
/// </summary>
internal sealed class PackedNetwork
{
    private readonly List<ScoringStep> steps;
    private readonly List<ValueSlot> slots;
    private readonly ValueSlot input, output;
    private readonly IReadOnlyDictionary<string, ValueSlot> nodes;
    private readonly ConcurrentBag<Workspace> workspaces = new();

    /// <param name="model">The exported model.</param>
    /// <param name="fuseEpilogues">Whether convolutions absorb the ReLU, pool and quantizer after them (<see cref="NetworkCompiler"/>); the same logits either way.</param>
    public PackedNetwork(ExportedModel model, bool fuseEpilogues = true)
    {
        Model = model;
        var compiler = new NetworkCompiler(model, fuseEpilogues);
        (steps, slots, input, output, nodes) = compiler.Compile();
        batches = steps.Any(s => s.BatchesExamples);
    }

    private readonly bool batches; // some step shares work across the examples of a batch
    private const int TogetherGroup = 8;

    /// <summary>The exported model this network runs.</summary>
    public ExportedModel Model { get; }

    /// <summary>The graph.</summary>
    public NetworkGraph Graph => Model.Graph;

    /// <summary>Input values per example.</summary>
    public int InputLength => input.Length;

    /// <summary>Logits per example.</summary>
    public int OutputLength => output.Length;

    /// <summary>Node name, kernel and weight bytes of every step with weights.</summary>
    public IEnumerable<(string Node, string Kernel, long WeightBytes)> Kernels =>
        steps.Where(s => s.Kernel.Length > 0).Select(s => (s.Name, s.Kernel, s.WeightBytes));

    /// <summary>Scores one example: <paramref name="example"/> in the graph's input layout, logits out.</summary>
    /// <param name="example">The input values.</param>
    /// <param name="logits">Receives the logits.</param>
    /// <param name="threads">Threads the large layers of this one example may use (1: none; for latency when requests are few).</param>
    public void Score(ReadOnlySpan<float> example, Span<float> logits, int threads = 1)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "Use at least one thread.");
        if (example.Length != InputLength) throw new ArgumentException($"The network takes {InputLength} input values, got {example.Length}.", nameof(example));
        if (logits.Length < OutputLength) throw new ArgumentException($"The network writes {OutputLength} logits.", nameof(logits));
        var ws = workspaces.TryTake(out var pooled) ? pooled : new Workspace(slots);
        try
        {
            ws.Threads = threads;
            example.CopyTo(ws.Floats(input));
            foreach (var step in steps) step.Run(ws);
            ws.Floats(output).AsSpan(0, OutputLength).CopyTo(logits);
        }
        finally
        {
            workspaces.Add(ws);
        }
    }

    /// <summary>Scores a group of examples step by step, each step over all of them (<see cref="ScoringStep.RunBatch"/>).</summary>
    private void ScoreTogether(ReadOnlySpan<float> examples, Span<float> logits, int count)
    {
        var group = new Workspace[count];
        for (int i = 0; i < count; i++) group[i] = workspaces.TryTake(out var pooled) ? pooled : new Workspace(slots);
        try
        {
            for (int i = 0; i < count; i++)
            {
                group[i].Threads = 1;
                examples.Slice(i * InputLength, InputLength).CopyTo(group[i].Floats(input));
            }
            foreach (var step in steps) step.RunBatch(group);
            for (int i = 0; i < count; i++) group[i].Floats(output).AsSpan(0, OutputLength).CopyTo(logits.Slice(i * OutputLength, OutputLength));
        }
        finally
        {
            foreach (var ws in group) workspaces.Add(ws);
        }
    }

    /// <summary>The compiled steps, in execution order (for profiling).</summary>
    internal IReadOnlyList<ScoringStep> Steps => steps;

    /// <summary>The slot of each node's output that the steps write (folded nodes have none), for tests and diagnosis.</summary>
    internal IReadOnlyDictionary<string, ValueSlot> NodeSlots => nodes;

    /// <summary>A fresh workspace holding <paramref name="example"/>, for running <see cref="Steps"/> one by one.</summary>
    internal Workspace NewWorkspace(ReadOnlySpan<float> example)
    {
        var ws = new Workspace(slots);
        example.CopyTo(ws.Floats(input));
        return ws;
    }

    /// <summary>
    /// Scores one example and returns every node's output as floats (integer activations times their unit), for diagnosis; a
    /// quantizer that keeps only the pixels its strided 1×1 convolution reads (<see cref="ValueSlot.Sampling"/>) gives NaN at the others.
    /// </summary>
    public Dictionary<string, float[]> Trace(ReadOnlySpan<float> example)
    {
        var ws = NewWorkspace(example);
        foreach (var step in steps) step.Run(ws);
        return nodes.ToDictionary(n => n.Key, n => n.Value.Sampling == 1 ? Values(ws, n.Value) : Unsampled(Values(ws, n.Value), n.Value, Graph.Shapes[n.Key]));
    }

    /// <summary>The values of a sampled slot at their pixels of the node's whole map <paramref name="shape"/>, NaN elsewhere.</summary>
    private static float[] Unsampled(float[] sampled, ValueSlot slot, int[] shape)
    {
        int channels = shape[0], height = shape[1], width = shape[2], rows = slot.Shape[1], cols = slot.Shape[2], s = slot.Sampling;
        var values = Enumerable.Repeat(float.NaN, channels * height * width).ToArray();
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < rows; y++)
                for (int x = 0; x < cols; x++) values[(c * height + y * s) * width + x * s] = sampled[(c * rows + y) * cols + x];
        return values;
    }

    /// <summary>A slot's values as floats in its CHW shape.</summary>
    private static float[] Values(Workspace ws, ValueSlot slot)
    {
        switch (slot.Layout)
        {
            case SlotLayout.Shorts:
                return ws.Shorts(slot).Take(slot.Length).Select(v => v * slot.Codec!.Unit).ToArray();
            case SlotLayout.PaddedBytes:
            {
                var bytes = ws.Bytes(slot);
                int channels = slot.Shape[0], height = slot.Shape[1], width = slot.Shape[2], offset = -slot.Codec!.MinInteger;
                var values = new float[slot.Length];
                for (int c = 0; c < channels; c++)
                    for (int y = 0; y < height; y++)
                        for (int x = 0; x < width; x++)
                            values[(c * height + y) * width + x] = (bytes[((y + slot.Padding) * slot.PaddedWidth + x + slot.Padding) * slot.PaddedChannels + c] - offset) * slot.Codec.Unit;
                return values;
            }
            case SlotLayout.ChannelsLast:
            {
                var stored = ws.Floats(slot);
                int channels = slot.Shape[0], plane = slot.Length / channels;
                var values = new float[slot.Length];
                for (int c = 0; c < channels; c++)
                    for (int p = 0; p < plane; p++) values[c * plane + p] = stored[slot.FloatIndex(c, p)];
                return values;
            }
            default:
                return ws.Floats(slot).Take(slot.Length).ToArray();
        }
    }

    /// <summary>
    /// Scores <paramref name="count"/> examples laid out one after another, on up to <paramref name="threads"/> threads: one
    /// example per task, or, where a step shares work across examples (<see cref="ScoringStep.BatchesExamples"/>: the LSTM's
    /// recurrent products), step by step over one group of examples per thread.
    /// </summary>
    public unsafe void ScoreBatch(ReadOnlySpan<float> examples, int count, Span<float> logits, int threads = 1)
    {
        if (examples.Length != count * InputLength) throw new ArgumentException($"{count} examples need {count * InputLength} values, got {examples.Length}.", nameof(examples));
        if (logits.Length < count * OutputLength) throw new ArgumentException($"{count} examples write {count * OutputLength} logits.", nameof(logits));
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "Use at least one thread.");
        if (batches && count > 1)
        {
            fixed (float* input = examples)
            fixed (float* output = logits)
            {
                nint source = (nint)input, target = (nint)output; // the spans stay pinned until Parallel.For returns
                int groups = Math.Min(threads, count);
                Parallel.For(0, groups, new ParallelOptions { MaxDegreeOfParallelism = groups }, g =>
                {
                    int start = (int)((long)count * g / groups), end = (int)((long)count * (g + 1) / groups);
                    // Groups of 8: a full tile of the int8 kernel, while 8 sequences' input gates (256 KB each for TextLstm) still fit the caches.
                    for (int first = start; first < end; first += TogetherGroup)
                    {
                        int n = Math.Min(TogetherGroup, end - first);
                        ScoreTogether(new ReadOnlySpan<float>((float*)source + (long)first * InputLength, n * InputLength),
                            new Span<float>((float*)target + (long)first * OutputLength, n * OutputLength), n);
                    }
                });
            }
            return;
        }
        if (threads <= 1 || count == 1)
        {
            for (int i = 0; i < count; i++) Score(examples.Slice(i * InputLength, InputLength), logits.Slice(i * OutputLength, OutputLength));
            return;
        }
        fixed (float* input = examples)
        fixed (float* output = logits)
        {
            nint source = (nint)input, target = (nint)output; // the spans stay pinned until Parallel.For returns
            int inputLength = InputLength, outputLength = OutputLength;
            Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = threads },
                i => Score(new ReadOnlySpan<float>((float*)source + (long)i * inputLength, inputLength), new Span<float>((float*)target + (long)i * outputLength, outputLength)));
        }
    }
}
