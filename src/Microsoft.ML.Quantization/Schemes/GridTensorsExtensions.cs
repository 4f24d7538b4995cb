using Microsoft.ML.Quantization.Functional;

namespace Microsoft.ML.Quantization.Schemes;

/// <summary>The step from training's grid tensors to the torch-free grid that export, persistence and scoring read.</summary>
internal static class GridTensorsExtensions
{
    /// <summary>Copies the grid to managed arrays.</summary>
    public static QuantizationGrid ToGrid(this GridTensors grid) => new(
        grid.Bits,
        grid.Scales.cpu().data<float>().ToArray(),
        grid.Levels.cpu().contiguous().data<float>().ToArray(),
        grid.Thresholds.cpu().data<float>().ToArray(),
        grid.CodeOrder?.cpu().contiguous().data<long>().Select(c => (int)c).ToArray());
}
