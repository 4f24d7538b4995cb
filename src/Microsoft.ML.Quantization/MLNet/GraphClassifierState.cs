using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Quantization.Training;

namespace Microsoft.ML.Quantization.MLNet;

/// <summary>The state every graph classifier saves: its input column, class names, graph and trained weights.</summary>
internal static class GraphClassifierState
{
    public static void Write(BinaryWriter writer, string inputColumn, IReadOnlyList<string> classNames, GraphModule module)
    {
        writer.Write(inputColumn);
        writer.Write(classNames.Count);
        foreach (string name in classNames) writer.Write(name);
        writer.Write(GraphSerializer.Write(module.Graph));
        module.save(writer);
    }

    public static (string InputColumn, string[] ClassNames, GraphModule Module) Read(BinaryReader reader)
    {
        string column = reader.ReadString();
        int classes = reader.ReadInt32();
        if (classes is < 2 or > 100_000) throw new InvalidDataException($"The stored classifier has {classes} classes.");
        var names = Enumerable.Range(0, classes).Select(_ => reader.ReadString()).ToArray();
        var graph = GraphSerializer.Read(reader.ReadString());
        if (graph.OutputSize != classes) throw new InvalidDataException($"The stored graph outputs {graph.OutputSize} values for {classes} classes.");
        var module = new GraphModule(graph);
        module.load(reader);
        return (column, names, module);
    }
}
