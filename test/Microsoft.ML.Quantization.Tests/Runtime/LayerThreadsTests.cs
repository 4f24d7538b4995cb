using Microsoft.ML.Quantization.Runtime;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Runtime;

/// <summary>The resident layer helpers run every part once, surface a part's failure, and stay usable after it.</summary>
public class LayerThreadsTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5)]
    public void EveryPartRunsOnce(int parts)
    {
        for (int round = 0; round < 200; round++)
        {
            var runs = new int[parts];
            LayerThreads.Run(parts, i => Interlocked.Increment(ref runs[i]));
            Assert.All(runs, r => Assert.Equal(1, r));
        }
    }

    [Fact]
    public void AFailingPartSurfacesAndTheHelpersCarryOn()
    {
        var failure = Assert.ThrowsAny<Exception>(() => LayerThreads.Run(2, i => { if (i == 1) throw new InvalidOperationException("part 1"); }));
        Assert.Contains("part 1", failure is AggregateException a ? a.InnerExceptions[0].Message : failure.Message);
        var runs = new int[2];
        LayerThreads.Run(2, i => runs[i]++);
        Assert.Equal(new[] { 1, 1 }, runs);
    }
}
