using Microsoft.ML.Quantization.Runtime;
using Microsoft.ML.Quantization.Serialization;

namespace Microsoft.ML.Quantization.MLNet;

/// <summary>
/// The state every graph classifier saves: its input column, class names and network. Format 2 stores the
/// network as an <see cref="ExportedModel"/> (packed codes, scored without torch); format 1 stored the graph
/// and the TorchSharp state, and still loads (<see cref="TorchGraphScorer"/>).
/// </summary>
internal static class GraphClassifierState
{
    public static void Write(BinaryWriter writer, string inputColumn, IReadOnlyList<string> classNames, IGraphScorer scorer)
    {
        writer.Write(inputColumn);
        writer.Write(classNames.Count);
        foreach (string name in classNames) writer.Write(name);
        scorer.Write(writer);
    }

    public static (string InputColumnName, string[] ClassNames, IGraphScorer Scorer) Read(BinaryReader reader, ushort version, float inputScale)
    {
        string column = reader.ReadString();
        int classes = reader.ReadInt32();
        if (classes is < 2 or > 100_000) throw new InvalidDataException($"The stored classifier has {classes} classes.");
        var names = Enumerable.Range(0, classes).Select(_ => reader.ReadString()).ToArray();
        IGraphScorer scorer = version == 1
            ? TorchGraphScorer.Read(reader, inputScale)
            : new PackedScorer(new PackedNetwork(ExportedModelFormat.Read(reader)), inputScale);
        if (scorer.Graph.OutputSize != classes) throw new InvalidDataException($"The stored graph outputs {scorer.Graph.OutputSize} values for {classes} classes.");
        return (column, names, scorer);
    }
}
