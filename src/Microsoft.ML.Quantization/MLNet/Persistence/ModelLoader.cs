using System.Collections.Concurrent;
using Microsoft.ML.Quantization.Serialization;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Quantization.MLNet.Persistence;

/// <summary>
/// Loads every MLQuant transformer from an ML.NET model: one loader signature for all of them, with the
/// payload's kind choosing the transformer type.
/// </summary>
internal static class ModelLoader
{
    /// <summary>The loader signature written in the model header.</summary>
    public const string LoaderSignature = "MLQuantTransformer";

    /// <summary>The 8-character model signature ML.NET checks at load.</summary>
    public const string ModelSignature = "MLQUANT ";

    /// <summary>Version of the header (the payload container has its own).</summary>
    public const uint HeaderVersion = 0x00010001;

    // Built-in kinds are listed here, not registered by the types themselves: a model may load before any of them is touched.
    private static readonly ConcurrentDictionary<string, Func<BinaryReader, ushort, ITransformer>> Loaders = new(StringComparer.Ordinal)
    {
        [ImageClassifierTransformer.Kind] = ImageClassifierTransformer.Load,
        [TextLstmTransformer.Kind] = TextLstmTransformer.Load,
    };

    /// <summary>Makes <paramref name="kind"/> loadable with <paramref name="load"/> (reader over the body, format version).</summary>
    public static void RegisterKind(string kind, Func<BinaryReader, ushort, ITransformer> load) => Loaders[kind] = load;

    /// <summary>Adds the loader to <paramref name="catalog"/>; safe to call many times.</summary>
    public static void Register(ComponentCatalog catalog) =>
        MLNetPersistenceInterop.RegisterLoader(catalog, LoaderSignature, typeof(QuantizationTransformerBase),
            typeof(ModelLoader).GetMethod(nameof(Create), System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!);

    /// <summary>The environment of a trainer catalog, with the loader registered: the context that trains can load what it saves.</summary>
    public static IHostEnvironment RegisteredEnvironment(object catalog)
    {
        var environment = MLNetPersistenceInterop.EnvironmentOf(catalog);
        Register(environment.ComponentCatalog);
        return environment;
    }

    /// <summary>Writes a wrapped payload as the model's data.</summary>
    public static void Save(ModelSaveContext context, byte[] container) =>
        MLNetPersistenceInterop.Save(context, ModelSignature, HeaderVersion, LoaderSignature, container);

    /// <summary>Called by ML.NET (through the catalog) for each saved MLQuant transformer.</summary>
    private static QuantizationTransformerBase Create(IHostEnvironment env, object loadContext) =>
        Load(MLNetPersistenceInterop.ReadPayload(loadContext, ModelSignature, HeaderVersion, LoaderSignature, PayloadContainer.MaxBodyLength + 1024));

    /// <summary>
    /// Checks and reads one payload container. Anything wrong with the bytes, however they were damaged or
    /// crafted, ends in an <see cref="InvalidDataException"/> that names the problem.
    /// </summary>
    public static QuantizationTransformerBase Load(byte[] container)
    {
        var (kind, version, body) = PayloadContainer.Unwrap(container);
        if (!Loaders.TryGetValue(kind, out var load))
            throw new InvalidDataException($"The model holds an MLQuant component of kind '{kind}', which this library does not know.");
        using var reader = new BinaryReader(new MemoryStream(body, writable: false));
        ITransformer transformer;
        try
        {
            transformer = load(reader, version);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException($"The '{kind}' state ends early: the model file is truncated or corrupted.", e);
        }
        catch (Exception e) when (e is not InvalidDataException and not OutOfMemoryException)
        {
            // Whatever slipped past the checks (a shape that does not fit the graph, say) is still a damaged file.
            throw new InvalidDataException($"The '{kind}' state is inconsistent: {e.Message}", e);
        }
        if (reader.BaseStream.Position != body.Length)
            throw new InvalidDataException($"The '{kind}' state has {body.Length - reader.BaseStream.Position} unread bytes: the model file is corrupted.");
        return (QuantizationTransformerBase)transformer;
    }
}
