using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML.Quantization.Graph;

namespace Microsoft.ML.Quantization.Serialization;

/// <summary>A <see cref="NetworkGraph"/> as JSON; reading re-runs every structural and shape check.</summary>
internal static class GraphSerializer
{
    private static readonly JsonSerializerOptions Json = new() { Converters = { new JsonStringEnumConverter() } };

    public static string Write(NetworkGraph graph) =>
        JsonSerializer.Serialize(new GraphDto(graph.InputShape.ToArray(), graph.Nodes.ToArray(), graph.Output), Json);

    /// <exception cref="InvalidDataException">The text is not a valid graph.</exception>
    public static NetworkGraph Read(string json)
    {
        try
        {
            var dto = JsonSerializer.Deserialize<GraphDto>(json, Json) ?? throw new InvalidDataException("The graph is empty.");
            return new NetworkGraph(dto.InputShape, dto.Nodes, dto.Output);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or NotSupportedException)
        {
            throw new InvalidDataException($"The stored network graph is invalid: {e.Message}", e);
        }
    }

    private sealed record GraphDto(int[] InputShape, GraphNode[] Nodes, string Output);
}
