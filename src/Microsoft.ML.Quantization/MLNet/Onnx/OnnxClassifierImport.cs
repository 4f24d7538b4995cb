using Microsoft.ML.Quantization.MLNet.Classifiers;
using Microsoft.ML.Quantization.MLNet.Text;
using Microsoft.ML.Quantization.Training;
using Microsoft.ML.Quantization.Serialization.Onnx;

namespace Microsoft.ML.Quantization.MLNet.Onnx;

/// <summary>Wraps an imported ONNX network in the classifier transformer that fits its input: pixels or features, or token ids read from text.</summary>
internal static class OnnxClassifierImport
{
    public static GraphClassifierTransformerBase Import(string path, OnnxImportOptions options)
    {
        var file = new FileInfo(path);
        if (!file.Exists) throw new FileNotFoundException($"No ONNX file at '{path}'.", path);
        if (file.Length > options.MaxFileBytes)
            throw new InvalidDataException($"The ONNX file '{path}' has {file.Length} bytes, over the limit of {options.MaxFileBytes} (OnnxImportOptions.MaxFileBytes).");
        var imported = OnnxImporter.Import(File.ReadAllBytes(path), options.InputName, options.OutputName, options.Mean, options.Std);
        var model = imported.Model;
        int classes = model.Graph.OutputSize;
        var names = options.ClassNames?.ToArray() ?? Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        if (names.Length != classes) throw new ArgumentOutOfRangeException(nameof(options), $"The options name {names.Length} classes; the network outputs {classes}.");
        if (!imported.TokenIds)
        {
            float scale = options.PixelScale * imported.InputScale;
            return new ImageClassifierTransformer(new PackedScorer(model, scale), scale, options.FeatureColumnName, names, Array.Empty<EpochRecord>());
        }
        var tokens = options.Vocabulary ?? throw new ArgumentOutOfRangeException(nameof(options),
            "The ONNX model reads token ids: give OnnxImportOptions.Vocabulary, the tokens of ids 2, 3, … (0 pads, 1 is unknown).");
        var vocabulary = new TextVocabulary(tokens.ToArray());
        int rows = model.Graph.Nodes[0].Vocabulary;
        if (rows != vocabulary.Size) throw new ArgumentOutOfRangeException(nameof(options), $"The vocabulary gives {vocabulary.Size} ids (2 reserved); the embedding has {rows} rows.");
        return new TextLstmTransformer(new PackedScorer(model, 1f), vocabulary, options.FeatureColumnName, names, Array.Empty<EpochRecord>());
    }
}
