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

    /// <summary>The kernel it uses, for reports (empty for simple element-wise steps).</summary>
    public virtual string Kernel => "";

    /// <summary>Bytes its weights occupy in memory.</summary>
    public virtual long WeightBytes => 0;
}
