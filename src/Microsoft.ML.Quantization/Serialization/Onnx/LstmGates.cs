namespace Microsoft.ML.Quantization.Serialization.Onnx;

/// <summary>
/// The order of an LSTM's four gate blocks: ONNX's i, o, f, c against the training layer's (PyTorch's) i, f, g, o. Export
/// and import both move whole blocks of hidden · columns values through this one table.
/// </summary>
internal static class LstmGates
{
    // ONNX block b holds the training layer's block TrainingBlockOfOnnx[b].
    private static readonly int[] TrainingBlockOfOnnx = { 0, 3, 1, 2 };

    /// <summary>Training-layer gate blocks in ONNX's order.</summary>
    public static float[] ToOnnx(ReadOnlySpan<float> training, int hidden, int columns) => Move(training, hidden * columns, onnxToTraining: false);

    /// <summary>ONNX gate blocks in the training layer's order.</summary>
    public static float[] FromOnnx(ReadOnlySpan<float> onnx, int hidden, int columns) => Move(onnx, hidden * columns, onnxToTraining: true);

    private static float[] Move(ReadOnlySpan<float> source, int block, bool onnxToTraining)
    {
        var result = new float[4 * block];
        for (int b = 0; b < 4; b++)
        {
            int from = onnxToTraining ? b : TrainingBlockOfOnnx[b], to = onnxToTraining ? TrainingBlockOfOnnx[b] : b;
            source.Slice(from * block, block).CopyTo(result.AsSpan(to * block, block));
        }
        return result;
    }
}
