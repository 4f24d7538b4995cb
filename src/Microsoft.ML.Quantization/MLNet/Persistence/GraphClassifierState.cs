using Microsoft.ML.Quantization.MLNet.Classifiers;
using Microsoft.ML.Quantization.Serialization;

namespace Microsoft.ML.Quantization.MLNet.Persistence;

/// <summary>
/// The state every graph classifier saves: its input column, class names and network. Format 2 stores the
/// network as an <see cref="ExportedModel"/> (packed codes, scored without torch); format 1 stored the graph
/// and the TorchSharp state, and still loads (<see cref="TorchGraphScorer"/>).
/// </summary>
internal static class GraphClassifierState
{
    /// <summary>The payload format <see cref="Write"/> writes for <paramref name="scorer"/>: format 1 again for a format-1 model, which holds no exported network.</summary>
    public static ushort FormatVersion(IGraphScorer scorer) => scorer.Model is null ? (ushort)1 : PayloadContainer.CurrentVersion;

    public static void Write(BinaryWriter writer, string inputColumn, IReadOnlyList<string> classNames, IGraphScorer scorer)
    {
        writer.Write(inputColumn);
        writer.Write(classNames.Count);
        foreach (string name in classNames) writer.Write(name);
        if (scorer.Model is { } model) ExportedModelFormat.Write(writer, model);
        else ((TorchGraphScorer)scorer).Write(writer);
    }

    public static (string InputColumnName, string[] ClassNames, IGraphScorer Scorer) Read(BinaryReader reader, ushort version, float inputScale)
    {
        string column = reader.ReadString();
        int classes = reader.ReadInt32();
        if (classes is < 2 or > 100_000) throw new InvalidDataException($"The stored classifier has {classes} classes.");
        var names = Enumerable.Range(0, classes).Select(_ => reader.ReadString()).ToArray();
        IGraphScorer scorer = version == 1
            ? TorchGraphScorer.Read(reader, inputScale)
            : new PackedScorer(ExportedModelFormat.Read(reader), inputScale);
        if (scorer.Graph.OutputSize != classes) throw new InvalidDataException($"The stored graph outputs {scorer.Graph.OutputSize} values for {classes} classes.");
        return (column, names, scorer);
    }
}
