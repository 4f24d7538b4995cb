using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Activations;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Activations;

public class BCPReLUTests
{
    // With k = 0.25, α_l = 5, α_u = 10 the kinks are at x = −20, 0 and 10; every input is ≥ 0.5 away.
    private static readonly float[] Inputs = { -40f, -31f, -21f, -19f, -12f, -4f, -0.5f, 0.5f, 3f, 9.5f, 10.5f, 30f };
    private static readonly float[] Weights = { 0.3f, -1.1f, 0.7f, 1.9f, -0.4f, 1.3f, 0.8f, -0.6f, 1.7f, 0.9f, -1.4f, 0.5f };

    private static Tensor Loss(BCPReLU activation, Tensor x) => (activation.forward(x) * tensor(Weights)).sum();

    [Fact]
    public void ForwardFollowsTheDefinition()
    {
        using var scope = NewDisposeScope();
        using var activation = new BCPReLU(new BCPReLUOptions());
        float[] y = activation.forward(tensor(Inputs)).data<float>().ToArray();
        float[] expected = Inputs.Select(x => x >= 10 ? 10f : x >= 0 ? x : Math.Max(0.25f * x, -5f)).ToArray();
        Assert.Equal(expected, y);
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        using var activation = new BCPReLU(new BCPReLUOptions());
        var x = tensor(Inputs).requires_grad_();
        Loss(activation, x).backward();

        const float h = 1e-2f;
        foreach (var parameter in new[] { activation.Slope, activation.LowerClip, activation.UpperClip })
        {
            float analytic = parameter.grad!.item<float>();
            float numeric = CentralDifference(() => Loss(activation, tensor(Inputs)).item<float>(), parameter, h);
            Assert.Equal(numeric, analytic, tolerance: 1e-2f);
        }
        float[] inputGradient = x.grad!.data<float>().ToArray();
        for (int i = 0; i < Inputs.Length; i++)
        {
            float[] plus = (float[])Inputs.Clone(), minus = (float[])Inputs.Clone();
            plus[i] += h; minus[i] -= h;
            float numeric = (Loss(activation, tensor(plus)).item<float>() - Loss(activation, tensor(minus)).item<float>()) / (2 * h);
            Assert.Equal(numeric, inputGradient[i], tolerance: 1e-2f);
        }
    }

    [Fact]
    public void GradientsFollowTheSteFormulas()
    {
        using var scope = NewDisposeScope();
        const float k = 0.25f, lower = 5f, upper = 10f;
        using var activation = new BCPReLU(new BCPReLUOptions { OutputBits = 3 });
        Loss(activation, tensor(Inputs)).backward();

        float dUpper = 0, dLower = 0, dSlope = 0;
        for (int i = 0; i < Inputs.Length; i++)
        {
            float x = Inputs[i], w = Weights[i];
            if (x > upper) dUpper += w;
            if (k * x < -lower) dLower -= w;
            if (x < 0 && k * x > -lower) dSlope += w * x;
        }
        Assert.Equal(dUpper, activation.UpperClip.grad!.item<float>(), tolerance: 1e-4f);
        Assert.Equal(dLower, activation.LowerClip.grad!.item<float>(), tolerance: 1e-4f);
        Assert.Equal(dSlope, activation.Slope.grad!.item<float>(), tolerance: 1e-3f);
    }

    [Fact]
    public void QuantizedOutputHasAtMostTwoToTheMLevelsBetweenTheClips()
    {
        using var scope = NewDisposeScope();
        using var activation = new BCPReLU(new BCPReLUOptions { OutputBits = 2 });
        var x = linspace(-60, 40, 2001);
        float[] y = activation.forward(x).data<float>().ToArray();
        Assert.InRange(y.Distinct().Count(), 2, 4);
        Assert.All(y, v => Assert.InRange(v, -5f - 1e-4f, 10f + 1e-4f));
        Assert.Contains(0f, y); // the grid holds 0 exactly
    }

    [Fact]
    public void WithZeroSlopeAndLowerClipItIsPact()
    {
        using var scope = NewDisposeScope();
        const float alpha = 6f;
        const int bits = 3;
        using var activation = new BCPReLU(new BCPReLUOptions { InitialSlope = 0, InitialLowerClip = 0, InitialUpperClip = alpha, OutputBits = bits });
        float[] inputs = Enumerable.Range(0, 997).Select(i => -8f + i * 0.0163f).ToArray();
        var x = tensor(inputs);
        var y = activation.forward(x);
        (y * x.cos()).sum().backward();

        float step = alpha / ((1 << bits) - 1);
        float[] actual = y.data<float>().ToArray();
        float expectedAlphaGradient = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            // PACT (Choi et al. 2018, Eq. 1–2): y = ½(|x| − |x − α| + α), y_q = round(y/Δ)·Δ, ∂y_q/∂α = 1 where x ≥ α.
            float pact = 0.5f * (Math.Abs(inputs[i]) - Math.Abs(inputs[i] - alpha) + alpha);
            Assert.Equal(MathF.Round(pact / step) * step, actual[i], tolerance: 1e-5f);
            if (inputs[i] >= alpha) expectedAlphaGradient += MathF.Cos(inputs[i]);
        }
        Assert.Equal(expectedAlphaGradient, activation.UpperClip.grad!.item<float>(), tolerance: 1e-3f);
    }

    [Fact]
    public void RegularisationIsL2OnTheClips()
    {
        using var scope = NewDisposeScope();
        using var activation = new BCPReLU(new BCPReLUOptions { InitialLowerClip = 3, InitialUpperClip = 4, ClipDecay = 0.5f });
        var loss = activation.RegularizationLoss();
        Assert.Equal(0.5f * (9 + 16), loss.item<float>(), tolerance: 1e-5f);
        loss.backward();
        Assert.Equal(3f, activation.LowerClip.grad!.item<float>(), tolerance: 1e-5f);
        Assert.Equal(4f, activation.UpperClip.grad!.item<float>(), tolerance: 1e-5f);
    }

    [Theory]
    [InlineData(0f, -1f, 10f, null)]
    [InlineData(0.25f, 5f, 0f, null)]
    [InlineData(float.NaN, 5f, 10f, null)]
    [InlineData(0.25f, 5f, 10f, 9)]
    public void OutOfRangeOptionsThrow(float slope, float lower, float upper, int? bits)
    {
        var options = new BCPReLUOptions { InitialSlope = slope, InitialLowerClip = lower, InitialUpperClip = upper, OutputBits = bits };
        Assert.Throws<ArgumentOutOfRangeException>(() => new BCPReLU(options));
    }

    private static float CentralDifference(Func<float> loss, TorchSharp.Modules.Parameter parameter, float h)
    {
        using var _ = no_grad();
        float original = parameter.item<float>();
        parameter.FillInPlace(original + h);
        float plus = loss();
        parameter.FillInPlace(original - h);
        float minus = loss();
        parameter.FillInPlace(original);
        return (plus - minus) / (2 * h);
    }
}
