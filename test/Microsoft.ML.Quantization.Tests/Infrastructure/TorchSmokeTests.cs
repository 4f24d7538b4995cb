using Microsoft.ML.Quantization.Functional;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Infrastructure;

/// <summary>Proves libtorch loads in the test process (see build/TorchSharpGlibcxxFix.targets).</summary>
public class TorchSmokeTests
{
    [Fact]
    public void TensorOpAndOneAutogradStepWork()
    {
        using var scope = NewDisposeScope();
        var w = tensor(new float[] { 1f, -2f, 3f }).requires_grad_();
        var x = tensor(new float[] { 0.5f, 0.25f, 2f });
        var loss = (w * x).sum().Squared();   // (0.5 - 0.5 + 6)^2 = 36
        loss.backward();

        Assert.Equal(36f, loss.item<float>(), 5);
        // d/dw (w.x)^2 = 2 (w.x) x = 12 x
        Assert.Equal(new[] { 6f, 3f, 24f }, w.grad!.data<float>().ToArray());

        using (no_grad()) { w.sub_(w.grad!.Times(0.01f)); }
        Assert.Equal(1f - 0.06f, w.data<float>()[0], 5);
    }
}
