using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization;

// Scores images with a saved MLQuant image classifier, without libtorch:
//   dotnet run --project src/Samples/Scoring -c Release -- MODEL.zip IMAGES-idx3-ubyte.gz LABELS-idx1-ubyte.gz [COUNT]
if (args.Length < 3)
{
    Console.Error.WriteLine("usage: Scoring MODEL.zip IMAGES-idx3-ubyte.gz LABELS-idx1-ubyte.gz [COUNT]");
    return 2;
}
int count = args.Length > 3 ? int.Parse(args[3]) : 100;
var ml = new MLContext();
ml.ComponentCatalog.RegisterQuantization();
var model = ml.Model.Load(args[0], out _);
var images = ml.Data.LoadFromIdxImages(args[1], args[2], DatasetCatalog.FashionMnistClassNames);
// The classifier's PredictedLabel is a key; map it back to the class name for display.
var names = ml.Transforms.Conversion.MapKeyToValue("PredictedName", "PredictedLabel").Fit(model.Transform(images));
var engine = ml.Model.CreatePredictionEngine<Image, Prediction>(new TransformerChain<ITransformer>(model, names));
int correct = 0, scored = 0;
foreach (var image in ml.Data.CreateEnumerable<Image>(images, reuseRowObject: false).Take(count))
{
    var prediction = engine.Predict(image);
    correct += prediction.PredictedName == image.Label ? 1 : 0;
    scored++;
}
Console.WriteLine($"scored {scored} images, {correct} correct ({(double)correct / Math.Max(1, scored):P1})");
Console.WriteLine($"libtorch loaded: {AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "TorchSharp" && TorchLoaded())}");
return 0;

// TorchSharp's managed assembly may be loaded as a dependency; its native library must not be.
static bool TorchLoaded() => File.ReadAllText("/proc/self/maps").Contains("libtorch", StringComparison.Ordinal);

/// <summary>One image as the model's input columns.</summary>
internal sealed class Image
{
    [VectorType(784)] public float[] Pixels { get; set; } = Array.Empty<float>();
    public string Label { get; set; } = "";
}

/// <summary>The classifier's outputs.</summary>
internal sealed class Prediction
{
    public string PredictedName { get; set; } = "";
    public float[] Score { get; set; } = Array.Empty<float>();
}
