using System.CommandLine;
using Microsoft.ML.Quantization.Samples;
using Microsoft.ML.Quantization.Samples.ScoringService;
using Microsoft.ML.Quantization.Tools.Mlquant;

// mlquant image --dataset DIR [--size 32] [--channels 1|3] [--model VggSmall|ResNet20|LeNet5|FILE.onnx] [--target-bits 2] [--epochs 8]
//               [--validation-fraction 0.2] [--seed 1] [--out mlquant-image] [--verbose]
// mlquant text --dataset FILE.tsv|FILE.csv [--label-column Label] [--text-column Text] [--sequence-length 128] [--target-bits 2]
//              [--epochs 8] [--validation-fraction 0.2] [--seed 1] [--out mlquant-text]
// mlquant evaluate MODEL.zip --dataset DIR|FILE [--label-column Label] [--text-column Text] [--out DIR]
// mlquant serve MODEL.zip [--urls http://127.0.0.1:5080] [--max-request-bytes 1048576]
return SampleMain.Run(args, Invoke);

static int Invoke(string[] args)
{
    var dataset = new Option<string>("--dataset") { Description = "A folder with one subfolder of images (JPEG, PNG, BMP; any size) per class.", Required = true };
    var size = new Option<int>("--size") { Description = "Images are resized to SIZE×SIZE (16 to 224).", DefaultValueFactory = _ => 32 };
    var channels = new Option<int?>("--channels") { Description = "1 (grey) or 3 (RGB); detected from the images by default." };
    var model = new Option<string>("--model") { Description = $"The network: {string.Join(", ", ImageCommand.Models.Keys)}, or a trained classifier's ONNX file (its outputs in the order of the class folders' names; its input fixes --size and --channels).", DefaultValueFactory = _ => "VggSmall" };
    var targetBits = new Option<int>("--target-bits") { Description = "Average weight and activation bits.", DefaultValueFactory = _ => 2 };
    var epochs = new Option<int>("--epochs") { Description = "FP32 training epochs.", DefaultValueFactory = _ => 8 };
    var fraction = new Option<double>("--validation-fraction") { Description = "Share of each class held out to validate.", DefaultValueFactory = _ => 0.2 };
    fraction.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<double>() is <= 0 or >= 1) result.AddError($"--validation-fraction takes a share between 0 and 1, not {result.GetValueOrDefault<double>()}.");
    });
    var seed = new Option<int>("--seed") { Description = "Seed of the split and the training.", DefaultValueFactory = _ => 1 };
    var output = new Option<string>("--out") { Description = "Output folder; its checkpoints let the same command resume.", DefaultValueFactory = _ => "mlquant-image" };
    var image = new Command("image", "Train and quantize an image classifier on a folder of images.") { dataset, size, channels, model, targetBits, epochs, fraction, seed, output };
    image.SetAction(result => ImageCommand.Run(new ImageCommandOptions(result.GetValue(dataset)!, result.GetValue(size), result.GetValue(channels), result.GetValue(model)!,
        result.GetValue(targetBits), result.GetValue(epochs), result.GetValue(fraction), result.GetValue(seed), result.GetValue(output)!)));
    var textFile = new Option<string>("--dataset") { Description = "A TSV or CSV file (by its extension) with a header row.", Required = true };
    var labelColumn = new Option<string>("--label-column") { Description = "The header name of the class column.", DefaultValueFactory = _ => "Label" };
    var textColumn = new Option<string>("--text-column") { Description = "The header name of the text column.", DefaultValueFactory = _ => "Text" };
    var sequenceLength = new Option<int>("--sequence-length") { Description = "Tokens read per text.", DefaultValueFactory = _ => 128 };
    var textOutput = new Option<string>("--out") { Description = "Output folder; its checkpoints let the same command resume.", DefaultValueFactory = _ => "mlquant-text" };
    var text = new Command("text", "Train and quantize a TextLstm classifier on a TSV or CSV file.") { textFile, labelColumn, textColumn, sequenceLength, targetBits, epochs, fraction, seed, textOutput };
    text.SetAction(result => TextCommand.Run(new TextCommandOptions(result.GetValue(textFile)!, result.GetValue(labelColumn)!, result.GetValue(textColumn)!,
        result.GetValue(targetBits), result.GetValue(epochs), result.GetValue(sequenceLength), result.GetValue(fraction), result.GetValue(seed), result.GetValue(textOutput)!)));
    var modelFile = new Argument<string>("model") { Description = "A model.zip written by mlquant image or text (or the library)." };
    var evaluationData = new Option<string>("--dataset") { Description = "An image model: a folder with one subfolder per class; a text model: a TSV or CSV file.", Required = true };
    var evaluationOutput = new Option<string?>("--out") { Description = "Also write metrics.json and confusion-matrix.png here." };
    var evaluate = new Command("evaluate", "Print a saved model's metrics on a labelled data set.") { modelFile, evaluationData, labelColumn, textColumn, evaluationOutput };
    evaluate.SetAction(result => EvaluateCommand.Run(new EvaluateCommandOptions(result.GetValue(modelFile)!, result.GetValue(evaluationData)!,
        result.GetValue(labelColumn)!, result.GetValue(textColumn)!, result.GetValue(evaluationOutput))));
    var urls = new Option<string>("--urls") { Description = "Where the service listens.", DefaultValueFactory = _ => "http://127.0.0.1:5080" };
    var maxRequestBytes = new Option<long>("--max-request-bytes") { Description = "The largest request body accepted.", DefaultValueFactory = _ => ScoringApp.DefaultMaxRequestBytes };
    maxRequestBytes.Validators.Add(result =>
    {
        if (result.GetValueOrDefault<long>() < 1) result.AddError($"--max-request-bytes takes a whole number of at least 1, not {result.GetValueOrDefault<long>()}.");
    });
    var serve = new Command("serve", "Serve a saved model over HTTP: POST /predict an image's bytes or a text, GET /model, GET /health.") { modelFile, urls, maxRequestBytes };
    serve.SetAction(result => ServeCommand.Run(new ServeCommandOptions(result.GetValue(modelFile)!, result.GetValue(urls)!, result.GetValue(maxRequestBytes))));
    var root = new RootCommand("mlquant: train, quantize, evaluate and serve low-bit ML.NET models.") { image, text, evaluate, serve };
    var parsed = root.Parse(args);
    // A command line it cannot use exits with 2, as every sample does; --help and the commands run through Invoke.
    if (parsed.Errors.Count > 0) throw new UsageException(string.Join(" ", parsed.Errors.Select(e => e.Message)) + " (mlquant COMMAND --help lists the options.)");
    // Failures reach SampleMain, which prints one line and the exit code, not a stack trace.
    return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
