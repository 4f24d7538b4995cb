using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.ML.Quantization.Samples.ScoringService;
using Microsoft.ML.Quantization.Samples.ScoringService.Load;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Tools;

/// <summary>
/// <c>mlquant</c> installed and run as a user runs it: image (evaluate and serve) on a colour data set of its own with
/// one corrupt file, text on a TSV with a row without a label; the consumption code each writes built in a fresh app
/// against the package. The command-line errors run the tool from the test's output, as installing it takes a minute.
/// </summary>
public class MlquantTests(InstalledMlquant installed) : IClassFixture<InstalledMlquant>
{
    private static readonly string Tool = Path.Combine(AppContext.BaseDirectory, "mlquant.dll");

    [Fact]
    public async Task InstalledTrainsQuantizesWritesTheModelMetricsReportAndCodeAndServesTheModel()
    {
        using var temp = RepoPaths.TempDirectory();
        string dataset = Path.Combine(temp.Path, "colours");
        ColourImages.WriteClassFolders(dataset, perClass: 40, seed: 3);
        File.WriteAllBytes(Path.Combine(dataset, "green", "broken.jpg"), new byte[] { 0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3 }); // a truncated JPEG

        // The README's lines, run where its relative --out lands in the test's folder; small images and few epochs.
        string[] train = InstalledMlquant.ReadmeLine("mlquant", "image", dataset);
        string log = ProcessRunner.Run(installed.Command, train.Concat(["--size", "24", "--epochs", "4", "--target-bits", "2"]), temp.Path);
        string output = Path.Combine(temp.Path, train[Array.IndexOf(train, "--out") + 1]);
        Assert.Contains("1 unreadable, skipped: green/broken.jpg", log);

        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
        var root = metrics.RootElement;
        Assert.Equal(ColourImages.Classes.Order(StringComparer.Ordinal), root.GetProperty("Classes").EnumerateArray().Select(c => c.GetString()));
        Assert.True(root.GetProperty("Accuracy").GetDouble() >= 0.95, $"validation accuracy {root.GetProperty("Accuracy").GetDouble():P1}\n{log}");
        Assert.Equal(new[] { "green/broken.jpg" }, root.GetProperty("Skipped").EnumerateArray().Select(s => s.GetString()));
        // Balanced: a fifth of each class's 40 readable images validated.
        var matrix = root.GetProperty("ConfusionMatrix").EnumerateArray().Select(r => r.EnumerateArray().Select(c => c.GetInt32()).ToArray()).ToArray();
        Assert.Equal(new[] { 8, 8, 8 }, matrix.Select(r => r.Sum()));
        Assert.Equal(3, root.GetProperty("PerClass").GetArrayLength());
        foreach (string file in new[] { "model.zip", "confusion-matrix.png", "report.md", "MLQuantModel.cs" }) Assert.True(File.Exists(Path.Combine(output, file)), file);
        Assert.Contains("green/broken.jpg", File.ReadAllText(Path.Combine(output, "report.md")));

        // evaluate scores the whole folder through the saved pipeline, skipping the corrupt file again.
        string evaluated = ProcessRunner.Run(installed.Command, InstalledMlquant.ReadmeLine("mlquant", "evaluate", dataset), temp.Path);
        Assert.Contains("on 120 examples", evaluated);
        Assert.Contains("Skipped (1): green/broken.jpg", evaluated);

        // The consumption code, built in a fresh app against the packages, and the served model classify a new image of another size.
        string image = Path.Combine(temp.Path, "new.jpg");
        byte[] jpeg = ColourImages.Encode(ColourImages.Draw(2, 50, 30, new Random(11)), SkiaSharp.SKEncodedImageFormat.Jpeg);
        File.WriteAllBytes(image, jpeg);
        Assert.Equal("blue", Predict(output, "image-app", "ImagePath", image, "Microsoft.ML.ImageAnalytics"));
        string[] serve = InstalledMlquant.ReadmeLine("mlquant", "serve");
        Assert.Equal("blue", await Serve(serve, temp.Path, new ByteArrayContent(jpeg) { Headers = { ContentType = new("image/jpeg") } }, "image"));
    }

    [Fact]
    public async Task InstalledTextTrainsOnATsvWritesTheSameOutputsAndServesTheModel()
    {
        using var temp = RepoPaths.TempDirectory();
        string dataset = Path.Combine(temp.Path, "mail.tsv"), output = Path.Combine(temp.Path, "out");
        var random = new Random(5);
        string[] spam = { "cheap", "pills", "win", "money", "offer", "prize" }, ham = { "meeting", "notes", "project", "attached", "review", "patch" };
        string Sentence(string[] words) => string.Join(' ', Enumerable.Range(0, 6).Select(_ => words[random.Next(words.Length)]));
        File.WriteAllLines(dataset, new[] { "Text\tCategory" }
            .Concat(Enumerable.Range(0, 160).Select(i => i % 2 == 0 ? $"{Sentence(spam)}\tspam" : $"{Sentence(ham)}\tham"))
            .Append("a row whose label is missing\t"));

        string log = ProcessRunner.Run(installed.Command, ["text", "--dataset", dataset, "--label-column", "Category", "--sequence-length", "8", "--epochs", "4", "--out", output]);
        Assert.Contains("1 without a label, skipped", log);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
        Assert.True(metrics.RootElement.GetProperty("Accuracy").GetDouble() >= 0.95, log);
        Assert.Equal(new[] { "row 162: no label" }, metrics.RootElement.GetProperty("Skipped").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal("spam", Predict(output, "text-app", "Text", "win cheap money prize"));
        Assert.Equal("spam", await Serve(["serve", Path.Combine(output, "model.zip"), "--urls", "URL"], temp.Path, JsonContent.Create(new { text = "win cheap money prize" }), "text"));
    }

    [Fact]
    public void GreyAtAnotherSizeWithResNet20ReadsColourImagesAsTheirBrightness()
    {
        using var temp = RepoPaths.TempDirectory();
        string dataset = Path.Combine(temp.Path, "colours"), output = Path.Combine(temp.Path, "out");
        ColourImages.WriteClassFolders(dataset, perClass: 30, seed: 8);
        string log = ProcessRunner.Run("dotnet", [Tool, "image", "--dataset", dataset, "--channels", "1", "--size", "16", "--model", "ResNet20", "--epochs", "4", "--out", output]);
        Assert.Contains("3 classes (blue, green, red), grey", log);
        // 72 training images are 3 batches: each stage runs 20 epochs to reach its 60 batches.
        Assert.Contains("Fine-tuning: epoch 20/20", log);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
        // The tints differ in brightness, so grey pixels still tell them apart; the red channel alone would not tell green from blue.
        Assert.True(metrics.RootElement.GetProperty("Accuracy").GetDouble() >= 0.9, log);
        using var served = new ServedModel(Path.Combine(output, "model.zip"));
        Assert.Equal(new[] { 1, 16, 16 }, served.Classifier.Graph.InputShape);
        Assert.Equal(ServedInputKind.Image, served.Kind);
    }

    [Fact]
    public async Task CtrlCStopsSaysHowToResumeAndTheSameCommandResumes()
    {
        using var temp = RepoPaths.TempDirectory();
        string dataset = Path.Combine(temp.Path, "colours"), output = Path.Combine(temp.Path, "out");
        ColourImages.WriteClassFolders(dataset, perClass: 20, seed: 5);
        string[] command = [Tool, "image", "--dataset", dataset, "--size", "16", "--epochs", "6", "--out", output];
        // Started through env with SIGINT at its default: a test run in the background (nohup, a CI runner) passes SIGINT
        // on ignored, and .NET then leaves it ignored, as a terminal's Ctrl+C never is.
        var info = new ProcessStartInfo("env", ["--default-signal=INT", "dotnet", .. command]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using (var run = Process.Start(info)!)
        {
            var stdout = run.StandardOutput.ReadToEndAsync();
            var stderr = run.StandardError.ReadToEndAsync();
            // Interrupted once the first FP32 epoch is checkpointed (an atomic rename), i.e. inside the second.
            string first = Path.Combine(output, "checkpoints", "fp32", "FP32-training-checkpoint.bin");
            while (!File.Exists(first) && !run.HasExited) Thread.Sleep(10);
            Assert.False(run.HasExited, "the run ended before its first checkpoint");
            ProcessRunner.Run("kill", ["-INT", run.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            Assert.True(run.WaitForExit(ProcessRunner.HangGuard), "Ctrl+C did not stop the run");
            Assert.NotEqual(0, run.ExitCode);
            Assert.Contains("run the same command to resume", await stderr + await stdout);
        }
        Assert.False(File.Exists(Path.Combine(output, "model.zip")));

        string resumed = ProcessRunner.Run("dotnet", command);
        Assert.Matches("FP32 training: resumed after epoch [1-5] ", resumed);
        Assert.True(File.Exists(Path.Combine(output, "model.zip")));
    }

    [Fact]
    public void AnOnnxClassifierPyTorchTrainedIsQuantizedOnTheFolderItsClassesNameInOrder()
    {
        using var temp = RepoPaths.TempDirectory();
        string dataset = Path.Combine(temp.Path, "fashion"), output = Path.Combine(temp.Path, "out");
        // Fashion-MNIST test images of the committed subset, 30 a class, as PNG files in folders "0-T-shirt-top" … "9-Ankle boot".
        var ml = new MLContext();
        var rows = ml.Data.CreateEnumerable<MLNet.Image.ImageClassifierTests.Image>(ml.Data.LoadFromIdxImages(RepoPaths.Subset("fashion-mnist", "t10k-images-idx3-ubyte.gz"),
            RepoPaths.Subset("fashion-mnist", "t10k-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames), reuseRowObject: false);
        var names = DatasetCatalog.FashionMnistClassNames.Select((n, i) => $"{i}-{n.Replace('/', '-')}").ToArray();
        foreach (var group in rows.GroupBy(r => r.Label))
        {
            string folder = Path.Combine(dataset, names[DatasetCatalog.FashionMnistClassNames.ToList().IndexOf(group.Key)]);
            Directory.CreateDirectory(folder);
            foreach (var (image, i) in group.Take(30).Select((r, i) => (r, i)))
            {
                var bitmap = new SkiaSharp.SKBitmap(28, 28, SkiaSharp.SKColorType.Gray8, SkiaSharp.SKAlphaType.Opaque); // Encode disposes it
                for (int p = 0; p < 784; p++) bitmap.SetPixel(p % 28, p / 28, new SkiaSharp.SKColor((byte)image.Pixels[p], (byte)image.Pixels[p], (byte)image.Pixels[p]));
                File.WriteAllBytes(Path.Combine(folder, $"{i}.png"), ColourImages.Encode(bitmap, SkiaSharp.SKEncodedImageFormat.Png));
            }
        }
        string log = ProcessRunner.Run("dotnet", [Tool, "image", "--dataset", dataset, "--model", RepoPaths.Fixture("onnx/pytorch-fashion-cnn-opset17.onnx"), "--out", output]);
        Assert.Contains("grey at 28×28", log);
        Assert.DoesNotContain("FP32 training", log);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
        double accuracy = metrics.RootElement.GetProperty("Accuracy").GetDouble();
        Assert.True(accuracy >= 0.7, $"validation accuracy {accuracy:P1}\n{log}");
        using var served = new ServedModel(Path.Combine(output, "model.zip"));
        Assert.Equal(names, served.Classifier.ClassNames);
        Assert.True(served.Classifier.QuantizationReport!.AverageWeightBits <= 2.05, log);

        // Another number of classes than the network outputs is a usage error.
        Directory.Delete(Path.Combine(dataset, names[9]), recursive: true);
        var (code, refused) = ProcessRunner.TryRun("dotnet", [Tool, "image", "--dataset", dataset, "--model", RepoPaths.Fixture("onnx/pytorch-fashion-cnn-opset17.onnx"), "--out", output]);
        Assert.Equal(2, code);
        Assert.Contains("9 class folders", refused);
    }

    [Theory]
    [InlineData("text --dataset missing.tsv", "No data set file")]
    [InlineData("evaluate missing.zip --dataset .", "No model at")]
    [InlineData("serve missing.zip", "No model at")]
    [InlineData("serve missing.zip --max-request-bytes 0", "--max-request-bytes takes a whole number of at least 1")]
    [InlineData("image", "Option '--dataset' is required")]
    [InlineData("image --dataset /nonexistent/mlquant", "No data set folder")]
    [InlineData("image --dataset . --size 8", "--size takes 16 to 224")]
    [InlineData("image --dataset . --model AlexNet", "--model takes VggSmall, ResNet20, LeNet5 or an ONNX file")]
    [InlineData("image --dataset . --model missing.onnx", "No ONNX file at")]
    [InlineData("text --dataset missing.tsv --validation-fraction 1.5", "--validation-fraction takes a share between 0 and 1")]
    public void ACommandLineItCannotUseExitsWith2AndSaysWhy(string arguments, string message)
    {
        using var temp = RepoPaths.TempDirectory();
        var (code, output) = ProcessRunner.TryRun("dotnet", new[] { Tool }.Concat(arguments.Split(' ')), temp.Path);
        Assert.Equal(2, code);
        Assert.Contains(message, output);
        Assert.DoesNotContain("   at ", output);
    }

    /// <summary>
    /// Builds a fresh app from the generated MLQuantModel.cs under <paramref name="output"/> and the library package (with
    /// <paramref name="packages"/>), and predicts the input whose <paramref name="property"/> is <paramref name="value"/>.
    /// </summary>
    private string Predict(string output, string app, string property, string value, params string[] packages)
    {
        string program = $$"""
            MLQuantModel.ModelPath = args[0];
            System.Console.WriteLine(MLQuantModel.Predict(new MLQuantModel.ModelInput { {{property}} = args[1] }).PredictedClass);
            """;
        string folder = LocalFeed.NewConsole(installed.Root, app, program, installed.Version, packages, ("MLQuantModel.cs", File.ReadAllText(Path.Combine(output, "MLQuantModel.cs"))));
        return ProcessRunner.Run("dotnet", ["run", "-c", "Release", "--no-build", "--", Path.Combine(output, "model.zip"), value], folder).Trim().Split('\n')[^1];
    }

    /// <summary>
    /// Starts <c>mlquant</c> with <paramref name="serve"/> in <paramref name="directory"/>, its <c>--urls</c> value swapped
    /// for a free port's, checks that /model names <paramref name="input"/>, posts <paramref name="request"/>; returns the label.
    /// </summary>
    private async Task<string> Serve(string[] serve, string directory, HttpContent request, string input)
    {
        int urls = Array.IndexOf(serve, "--urls") + 1;
        Assert.True(urls > 0, $"no --urls in '{string.Join(' ', serve)}'");
        using var service = await LoopbackService.StartAsync(url =>
            new ProcessStartInfo(installed.Command, serve.Select((w, i) => i == urls ? url : w)) { WorkingDirectory = directory });
        using var http = new HttpClient { BaseAddress = service.Address };
        using var description = JsonDocument.Parse(await http.GetStringAsync("/model"));
        Assert.Equal(input, description.RootElement.GetProperty("input").GetString());
        var response = await http.PostAsync("/predict", request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<PredictResponse>())!.Label;
    }
}
