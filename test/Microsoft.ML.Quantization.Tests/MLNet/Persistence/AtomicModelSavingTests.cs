using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet.Persistence;

/// <summary>A save that fails half-way leaves the previous model in place and no temporary file behind.</summary>
public class AtomicModelSavingTests
{
    [Fact]
    public void FailedSaveKeepsThePreviousModel()
    {
        using var temp = RepoPaths.TempDirectory();
        string path = temp.File("model.zip");
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterQuantization();
        string fixture = RepoPaths.ImageClassifierFixture;
        var model = ml.Model.Load(fixture, out var schema);
        ml.Model.SaveAtomically(model, schema, path);
        byte[] saved = File.ReadAllBytes(path);

        // A chain whose second transformer throws while it is being written.
        var failing = new TransformerChain<ITransformer>(model, new ThrowingTransformer());
        Assert.Throws<IOException>(() => ml.Model.SaveAtomically(failing, schema, path));

        Assert.Equal(saved, File.ReadAllBytes(path));
        Assert.Equal(new[] { "model.zip" }, Directory.GetFiles(temp.Path).Select(Path.GetFileName));
        ml.Model.Load(path, out _); // still a valid model
    }

    private sealed class ThrowingTransformer : ITransformer, ICanSaveModel
    {
        public bool IsRowToRowMapper => true;
        public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => inputSchema;
        public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => throw new NotSupportedException();
        public IDataView Transform(IDataView input) => input;
        public void Save(ModelSaveContext ctx) => throw new IOException("disk full (simulated)");
    }
}
