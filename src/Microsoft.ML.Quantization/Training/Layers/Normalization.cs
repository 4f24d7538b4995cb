using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Training.Layers;

/// <summary>(x − mean) / std per channel with fixed statistics (buffers, not trained): the input normalisation of an imported model.</summary>
internal sealed class Normalization : Module<Tensor, Tensor>
{
    private readonly Tensor mean, std;

    public Normalization(string name, long channels) : base(name)
    {
        mean = zeros(channels);
        std = ones(channels);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        var shape = new long[x.dim()];
        Array.Fill(shape, 1L);
        shape[1] = mean.shape[0];
        return (x - mean.view(shape)) / std.view(shape);
    }
}
