using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Schemes;

/// <summary>Quaternary, 2 bits with four levels (<see cref="QuantizationScheme.Quaternary"/>).</summary>
/// <remarks>
/// AutoQNN §3.1: levels {-2, -1, 0, 1}·α, nearest-level rounding (thresholds -1.5, -0.5, 0.5), clipped at
/// [-2α, α]. α = c·σ with σ the root mean square of x (the variance about zero, since the grid is centred
/// at zero) and c = <see cref="StepFactor"/>, the step that minimises the expected MSE of this grid on
/// N(0,1) (computed by <c>OptimalClipConstantsTests</c> in the test suite).
/// </remarks>
internal sealed class QuaternaryScheme : SchemeMath
{
    public static readonly QuaternaryScheme Instance = new();

    /// <summary>MSE-optimal α/σ of the {-2,-1,0,1} grid for a normal distribution.</summary>
    public const double StepFactor = 1.0484;

    public override QuantizationScheme Kind => QuantizationScheme.Quaternary;
    public override int MinBits => 2;
    public override int MaxBits => 2;

    protected override GridTensors Fit(Tensor x, int bits) =>
        GridTensors.Uniform(bits, RootMeanSquare(x).Times(StepFactor), ScalarOperands.Full(x.shape[0], -2, float64, x.device), 4);
}
