using Microsoft.CodeAnalysis;

namespace Microsoft.ML.Quantization.Tests.Infrastructure;

/// <summary>What code compiled in a test may reference: the framework and every assembly this test process can load (the library, ML.NET and their dependencies).</summary>
internal static class CompilationReferences
{
    private static readonly Lazy<MetadataReference[]> All = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Append(typeof(QuantizationCatalog).Assembly.Location)
            .Append(typeof(MLContext).Assembly.Location)
            .Append(typeof(Microsoft.ML.Data.VectorTypeAttribute).Assembly.Location)
            .Distinct(StringComparer.Ordinal)
            .Where(File.Exists)
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToArray());

    /// <summary>The references.</summary>
    public static MetadataReference[] Value => All.Value;
}
