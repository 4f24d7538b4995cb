using Microsoft.ML.Data;

namespace Microsoft.ML.Quantization.MLNet.Classifiers;

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

    /// <summary>
    /// A classifier's output: an input column (a float vector, or text) mapped to <c>Score</c> (class
    /// probabilities, with slot names) and <c>PredictedLabel</c> (a key whose values are <paramref name="classNames"/>).
    /// </summary>
    public static IEstimator<ITransformer> Classifier<TValue>(string inputColumn, DataViewType inputType, IReadOnlyList<string> classNames, Action<TValue, float[]> scores, out IDataView emptyInput)
    {
        var ml = new MLContext();
        var input = SchemaDefinition.Create(typeof(ClassifierInput<TValue>));
        input[0].ColumnName = inputColumn;
        input[0].ColumnType = inputType;
        int classes = classNames.Count;
        var names = new VBuffer<ReadOnlyMemory<char>>(classes, classNames.Select(n => n.AsMemory()).ToArray());
        var namesType = new VectorDataViewType(TextDataViewType.Instance, classes);
        var output = SchemaDefinition.Create(typeof(ClassifierOutput));
        output[nameof(ClassifierOutput.Score)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, classes);
        output[nameof(ClassifierOutput.Score)].AddAnnotation("SlotNames", names, namesType);
        output[nameof(ClassifierOutput.PredictedLabel)].ColumnType = new KeyDataViewType(typeof(uint), classes);
        output[nameof(ClassifierOutput.PredictedLabel)].AddAnnotation("KeyValues", names, namesType);
        emptyInput = ml.Data.LoadFromEnumerable(new List<ClassifierInput<TValue>>(), input);
        return ml.Transforms.CustomMapping<ClassifierInput<TValue>, ClassifierOutput>(
            (source, destination) =>
            {
                var probabilities = new float[classes];
                scores(source.Input, probabilities);
                int best = 0;
                for (int k = 1; k < classes; k++) if (probabilities[k] > probabilities[best]) best = k;
                destination.Score = probabilities;
                // The mapping's key output is 0-based: ML.NET stores it as the 1-based key best + 1 (0 means missing).
                destination.PredictedLabel = (uint)best;
            },
            contractName: null, input, output);
    }

    /// <summary>Input row of <see cref="Classifier{TValue}"/>.</summary>
    internal sealed class ClassifierInput<TValue>
    {
        public TValue Input { get; set; } = default!;
    }

    /// <summary>Input row of <see cref="Vector"/>.</summary>
    internal sealed class VectorInput
    {
        public float[] Input { get; set; } = Array.Empty<float>();
    }

    /// <summary>Output row of <see cref="Classifier{TValue}"/>.</summary>
    internal sealed class ClassifierOutput
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public uint PredictedLabel { get; set; }
    }

    /// <summary>Output row of <see cref="Vector"/>.</summary>
    internal sealed class VectorOutput
    {
        public float[] Output { get; set; } = Array.Empty<float>();
    }
}
