using Microsoft.ML.Data;

namespace Microsoft.ML.Quantization.MLNet;

/// <summary>
/// Builds the ML.NET mapping transformers that <see cref="QuantizationTransformerBase"/> delegates to: a
/// custom mapping whose column names and vector sizes are set at run time.
/// </summary>
internal static class ColumnMapping
{
    /// <summary>A float vector column of <paramref name="inputLength"/> mapped to one of <paramref name="outputLength"/>.</summary>
    public static ITransformer Vector(string inputColumn, int inputLength, string outputColumn, int outputLength, Action<float[], float[]> map)
    {
        var ml = new MLContext();
        var input = SchemaDefinition.Create(typeof(VectorInput));
        input[0].ColumnName = inputColumn;
        input[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, inputLength);
        var output = SchemaDefinition.Create(typeof(VectorOutput));
        output[0].ColumnName = outputColumn;
        output[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, outputLength);
        var estimator = ml.Transforms.CustomMapping<VectorInput, VectorOutput>(
            (source, destination) =>
            {
                destination.Output = new float[outputLength];
                map(source.Input, destination.Output);
            },
            contractName: null, input, output);
        return estimator.Fit(ml.Data.LoadFromEnumerable(new List<VectorInput>(), input));
    }

    /// <summary>Input row of <see cref="Vector"/>.</summary>
    internal sealed class VectorInput
    {
        public float[] Input { get; set; } = Array.Empty<float>();
    }

    /// <summary>Output row of <see cref="Vector"/>.</summary>
    internal sealed class VectorOutput
    {
        public float[] Output { get; set; } = Array.Empty<float>();
    }
}
