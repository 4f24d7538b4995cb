using Microsoft.ML.Data;

namespace Microsoft.ML.Quantization.MLNet.Classifiers;

/// <summary>Reads a float vector column and a key label column out of an <see cref="IDataView"/>, with errors that name the column.</summary>
internal static class LabeledVectorReader
{
    /// <summary>Checks that <paramref name="column"/> is a float vector of <paramref name="length"/> values.</summary>
    public static void CheckFeatures(DataViewSchema schema, string column, int length)
    {
        var found = schema.GetColumnOrNull(column) ?? throw new ArgumentOutOfRangeException(nameof(column), $"The data has no feature column '{column}'.");
        if (found.Type is not VectorDataViewType { ItemType: NumberDataViewType number } vector || number != NumberDataViewType.Single)
            throw new ArgumentOutOfRangeException(nameof(column), $"Feature column '{column}' must be a vector of Single, but is {found.Type}.");
        if (vector.Size != 0 && vector.Size != length)
            throw new ArgumentOutOfRangeException(nameof(column), $"Feature column '{column}' has {vector.Size} values per row; the network expects {length}.");
    }

    /// <summary>The label column's class names (its key values, or "0".."K−1").</summary>
    public static string[] ClassNames(DataViewSchema schema, string column)
    {
        var found = schema.GetColumnOrNull(column) ?? throw new ArgumentOutOfRangeException(nameof(column), $"The data has no label column '{column}'.");
        if (found.Type is not KeyDataViewType key)
            throw new ArgumentOutOfRangeException(nameof(column), $"Label column '{column}' must be a key (use MapValueToKey), but is {found.Type}.");
        int count = checked((int)key.Count);
        if (found.HasKeyValues())
        {
            VBuffer<ReadOnlyMemory<char>> values = default;
            found.GetKeyValues(ref values);
            return values.DenseValues().Select(v => v.ToString()).ToArray();
        }
        return Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>All rows of a text column and a key label column (labels 0-based).</summary>
    public static (string[] Texts, long[] Labels) ReadText(IDataView data, string textColumn, string labelColumn)
    {
        var found = data.Schema.GetColumnOrNull(textColumn) ?? throw new ArgumentOutOfRangeException(nameof(textColumn), $"The data has no text column '{textColumn}'.");
        if (found.Type is not TextDataViewType) throw new ArgumentOutOfRangeException(nameof(textColumn), $"Text column '{textColumn}' must be text, but is {found.Type}.");
        ClassNames(data.Schema, labelColumn);
        var texts = new List<string>();
        var labels = new List<long>();
        var columns = new[] { found, data.Schema[labelColumn] };
        using var cursor = data.GetRowCursor(columns);
        var getText = cursor.GetGetter<ReadOnlyMemory<char>>(columns[0]);
        var getLabel = cursor.GetGetter<uint>(columns[1]);
        ReadOnlyMemory<char> text = default;
        uint label = 0;
        while (cursor.MoveNext())
        {
            getText(ref text);
            getLabel(ref label);
            if (label == 0) throw new ArgumentOutOfRangeException(nameof(labelColumn), $"Row {texts.Count} of '{labelColumn}' has a missing label.");
            texts.Add(text.ToString());
            labels.Add(label - 1);
        }
        if (texts.Count == 0) throw new ArgumentException("The training data is empty.", nameof(data));
        return (texts.ToArray(), labels.ToArray());
    }

    /// <summary>All rows: features scaled by <paramref name="scale"/> and 0-based labels.</summary>
    public static (float[] Features, long[] Labels) Read(IDataView data, string featureColumn, int length, string labelColumn, float scale)
    {
        CheckFeatures(data.Schema, featureColumn, length);
        ClassNames(data.Schema, labelColumn);
        var features = new List<float>();
        var labels = new List<long>();
        var columns = new[] { data.Schema[featureColumn], data.Schema[labelColumn] };
        using var cursor = data.GetRowCursor(columns);
        var getFeatures = cursor.GetGetter<VBuffer<float>>(columns[0]);
        var getLabel = cursor.GetGetter<uint>(columns[1]);
        VBuffer<float> row = default;
        uint label = 0;
        long index = 0;
        while (true)
        {
            try
            {
                if (!cursor.MoveNext()) break;
                getFeatures(ref row);
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or IOException || e.GetType() == typeof(ArgumentException))
            {
                throw UpstreamFailure(featureColumn, index, e);
            }
            getLabel(ref label);
            if (row.Length != length) throw new ArgumentOutOfRangeException(nameof(featureColumn), $"Row {index} of '{featureColumn}' has {row.Length} values; the network expects {length}.");
            if (label == 0) throw new ArgumentOutOfRangeException(nameof(labelColumn), $"Row {index} of '{labelColumn}' has a missing label.");
            foreach (float v in row.DenseValues()) features.Add(v * scale);
            labels.Add(label - 1);
            index++;
        }
        if (index == 0) throw new ArgumentException("The training data is empty.", nameof(data));
        return (features.ToArray(), labels.ToArray());
    }

    /// <summary>
    /// A failure of the upstream pipeline while reading a row (ML.NET's LoadImages on a file that is not an image
    /// throws its cursor's InvalidOperationException around SkiaSharp's ArgumentException), as one typed error
    /// naming the column and the row.
    /// </summary>
    private static InvalidDataException UpstreamFailure(string column, long row, Exception e)
    {
        var inner = e;
        while (inner.InnerException is not null) inner = inner.InnerException;
        return new InvalidDataException($"Row {row} of feature column '{column}' could not be read: {inner.Message} " +
            "(an upstream transform failed, e.g. LoadImages on a file that is not an image).", e);
    }
}
