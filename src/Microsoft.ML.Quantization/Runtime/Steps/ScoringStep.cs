namespace Microsoft.ML.Quantization.Runtime.Steps;

/// <summary>One node of the compiled network: reads its input slots and writes its output slot for one example.</summary>
internal abstract class ScoringStep
{
    protected ScoringStep(string name, ValueSlot output)
    {
        Name = name;
        Output = output;
    }

    /// <summary>The graph node it runs.</summary>
    public string Name { get; }

    /// <summary>Where it writes.</summary>
    public ValueSlot Output { get; }

    /// <summary>Runs the step for the example held in <paramref name="ws"/>.</summary>
    public abstract void Run(Workspace ws);

    /// <summary>Whether <see cref="RunBatch"/> does better than one example after another (it shares work across them).</summary>
    public virtual bool BatchesExamples => false;

    /// <summary>Runs the step for several examples, one workspace each; by default one after another.</summary>
    public virtual void RunBatch(ReadOnlySpan<Workspace> batch)
    {
        foreach (var ws in batch) Run(ws);
    }

    /// <summary>The kernel it uses, for reports (empty for simple element-wise steps).</summary>
    public virtual string Kernel => "";

    /// <summary>Bytes its weights occupy in memory.</summary>
    public virtual long WeightBytes => 0;
}
