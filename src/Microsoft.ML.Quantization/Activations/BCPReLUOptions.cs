namespace Microsoft.ML.Quantization.Activations;

/// <summary>Options of the BCPReLU activation (bilateral clipping parametric ReLU).</summary>
/// <remarks>
/// The defaults are the BCPReLU paper's initial values. A graph's BCPReLU node carries its options
/// (<see cref="Graph.GraphNode.BCPReLU"/>), so that a saved, loaded or re-quantized model keeps them.
/// </remarks>
public sealed record BCPReLUOptions
{
    /// <summary>Initial slope k for negative inputs. Default 0.25.</summary>
    public float InitialSlope { get; set; } = 0.25f;

    /// <summary>Initial lower clip α_l: outputs stay at or above −α_l. Default 5.</summary>
    public float InitialLowerClip { get; set; } = 5f;

    /// <summary>Initial upper clip α_u: outputs stay at or below α_u. Default 10.</summary>
    public float InitialUpperClip { get; set; } = 10f;

    /// <summary>Weight λ of the L2 regularisation λ(α_l² + α_u²) that keeps the clips tight. Default 1e-4.</summary>
    public float ClipDecay { get; set; } = 1e-4f;

    /// <summary>Bits M of the output, quantized uniformly between the clips; null leaves it in float. Default null.</summary>
    public int? OutputBits { get; set; }

    /// <summary>Throws if an option is out of range.</summary>
    internal void Validate()
    {
        if (!float.IsFinite(InitialSlope)) throw new ArgumentOutOfRangeException(nameof(InitialSlope), InitialSlope, "The slope must be finite.");
        if (!(InitialLowerClip >= 0) || !float.IsFinite(InitialLowerClip))
            throw new ArgumentOutOfRangeException(nameof(InitialLowerClip), InitialLowerClip, "The lower clip must be finite and ≥ 0.");
        if (!(InitialUpperClip > 0) || !float.IsFinite(InitialUpperClip))
            throw new ArgumentOutOfRangeException(nameof(InitialUpperClip), InitialUpperClip, "The upper clip must be finite and > 0.");
        if (!(ClipDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(ClipDecay), ClipDecay, "The clip decay must be ≥ 0.");
        if (OutputBits is < 1 or > 8) throw new ArgumentOutOfRangeException(nameof(OutputBits), OutputBits, "Output bits must be between 1 and 8.");
    }
}
