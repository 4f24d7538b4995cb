using Microsoft.ML.Data;
using Microsoft.ML.Quantization.MLNet.Persistence;
using Microsoft.ML.Quantization.Serialization;

namespace Microsoft.ML.Quantization;

/// <summary>
/// Base of every transformer MLQuant makes. It delegates the data plumbing (schema, cursors, row-to-row
/// mapping for <c>PredictionEngine</c>) to an ML.NET mapping transformer and saves its own state with the
/// model, so that <c>mlContext.Model.Save</c> and <c>Load</c> round-trip it.
/// </summary>
public abstract class QuantizationTransformerBase : ITransformer, ICanSaveModel
{
    private readonly ITransformer mapping;

    /// <summary>Wraps the mapping that computes this transformer's output columns.</summary>
    private protected QuantizationTransformerBase(ITransformer mapping)
    {
        this.mapping = mapping ?? throw new ArgumentNullException(nameof(mapping));
    }

    /// <summary>The payload kind under which <see cref="ModelLoader"/> finds this transformer's loader.</summary>
    private protected abstract string PayloadKind { get; }

    /// <summary>Writes the state that the kind's loader reads back.</summary>
    private protected abstract void WriteState(BinaryWriter writer);

    /// <summary>The payload format <see cref="WriteState"/> writes.</summary>
    private protected virtual ushort FormatVersion => PayloadContainer.CurrentVersion;

    /// <inheritdoc />
    public bool IsRowToRowMapper => mapping.IsRowToRowMapper;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        return mapping.GetOutputSchema(inputSchema);
    }

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema)
    {
        CheckInput(inputSchema);
        return mapping.GetRowToRowMapper(inputSchema);
    }

    /// <inheritdoc />
    public IDataView Transform(IDataView input)
    {
        ArgumentNullException.ThrowIfNull(input);
        CheckInput(input.Schema);
        return mapping.Transform(input);
    }

    /// <summary>Throws an <see cref="ArgumentOutOfRangeException"/> naming the input column if the schema cannot feed the transformer.</summary>
    private protected virtual void CheckInput(DataViewSchema inputSchema) { }

    /// <inheritdoc />
    void ICanSaveModel.Save(ModelSaveContext ctx) => ModelLoader.Save(ctx, ToPayload());

    /// <summary>The payload container this transformer saves (kind, format version, state, checksum).</summary>
    internal byte[] ToPayload()
    {
        using var body = new MemoryStream();
        using (var writer = new BinaryWriter(body, System.Text.Encoding.UTF8, leaveOpen: true)) WriteState(writer);
        return PayloadContainer.Wrap(PayloadKind, body.GetBuffer().AsSpan(0, (int)body.Length), FormatVersion);
    }
}
