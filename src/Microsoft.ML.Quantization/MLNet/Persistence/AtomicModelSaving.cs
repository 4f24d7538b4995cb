namespace Microsoft.ML.Quantization;

/// <summary>Saving models so that an interrupted save never damages the file it replaces.</summary>
public static class AtomicModelSaving
{
    /// <summary>
    /// Saves like <c>mlContext.Model.Save(model, schema, path)</c>, but into a temporary file beside
    /// <paramref name="path"/> that then replaces it in one rename: a crash or an exception during the save
    /// leaves the previous model (or no file) at <paramref name="path"/>, never half of a new one.
    /// </summary>
    /// <param name="catalog">The context's model operations (<c>mlContext.Model</c>).</param>
    /// <param name="model">The fitted model.</param>
    /// <param name="inputSchema">The schema of the data the model was fitted on.</param>
    /// <param name="path">Where the model goes.</param>
    public static void SaveAtomically(this ModelOperationsCatalog catalog, ITransformer model, DataViewSchema inputSchema, string path)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        string temporary = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                catalog.Save(model, inputSchema, stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary)) File.Delete(temporary);
        }
    }
}
