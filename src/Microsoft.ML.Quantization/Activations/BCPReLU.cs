using Microsoft.ML.Quantization.Functional;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Activations;

/// <summary>BCPReLU: a learnable bilateral clipping activation that bounds activations for quantization.</summary>
/// <remarks>
/// The equivalent form of the BCPReLU paper's Eq. 3, with slope k, lower clip α_l and upper clip α_u:
/// <code>
///   f(x) = min(max(x, 0), α_u) + max(min(k·x, 0), −α_l)
///        = α_u (x ≥ α_u),  x (0 ≤ x &lt; α_u),  k·x (−α_l ≤ k·x &lt; 0),  −α_l (k·x &lt; −α_l).
/// </code>
/// Gradients (the STE formulas): ∂f/∂x = 1 on (0, α_u) and k where −α_l &lt; kx &lt; 0; ∂f/∂α_u = 1 where
/// x &gt; α_u; ∂f/∂α_l = −1 where kx &lt; −α_l; ∂f/∂k = x where −α_l &lt; kx &lt; 0; zero elsewhere.
/// With k = 0 and α_l = 0 this is PACT, f = ½(|x| − |x − α_u| + α_u). When <see cref="BCPReLUOptions.OutputBits"/>
/// is set, f is quantized to M bits uniformly between −α_l and α_u (<see cref="GridTensors.MinMax"/>, so 0 is
/// exact) and the rounding passes the gradients of f straight through.
/// </remarks>
internal sealed class BCPReLU : Module<Tensor, Tensor>
{
    private readonly float clipDecay;
    private readonly int? outputBits;

    // Field names are the parameter names RegisterComponents records.
    private readonly Parameter slope;
    private readonly Parameter lower_clip;
    private readonly Parameter upper_clip;

    /// <summary>Creates the activation with the given options (validated).</summary>
    public BCPReLU(BCPReLUOptions options, string name = "bcprelu") : base(name)
    {
        options.Validate();
        clipDecay = options.ClipDecay;
        outputBits = options.OutputBits;
        slope = Parameter(tensor(options.InitialSlope));
        lower_clip = Parameter(tensor(options.InitialLowerClip));
        upper_clip = Parameter(tensor(options.InitialUpperClip));
        RegisterComponents();
    }

    /// <summary>The slope k.</summary>
    public Parameter Slope => slope;

    /// <summary>The lower clip α_l.</summary>
    public Parameter LowerClip => lower_clip;

    /// <summary>The upper clip α_u.</summary>
    public Parameter UpperClip => upper_clip;

    /// <summary>Bits of the quantized output, or null.</summary>
    public int? OutputBits => outputBits;

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var clipped = minimum(x.ClampMin(0), upper_clip).Plus(maximum((x * slope).ClampMax(0), -lower_clip));
        if (outputBits is null) return clipped.MoveToOuterDisposeScope();
        using var grid = OutputGrid()!;
        var flat = clipped.reshape(1, -1);
        var quantized = grid.Decode(grid.Encode(flat));
        return StraightThrough.Apply(flat, quantized, null).reshape(x.shape).MoveToOuterDisposeScope();
    }

    /// <summary>The output grid (uniform over [−α_l, α_u]) at the current clips; null without output bits.</summary>
    public GridTensors? OutputGrid()
    {
        if (outputBits is not int bits) return null;
        using var scope = NewDisposeScope();
        return GridTensors.MinMax(bits, -lower_clip.detach().reshape(1), upper_clip.detach().reshape(1));
    }

    /// <summary>λ(α_l² + α_u²), to add to the training loss.</summary>
    public Tensor RegularizationLoss() => lower_clip.Squared().Plus(upper_clip.Squared()).Times(clipDecay);
}
