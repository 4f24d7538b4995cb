using System.Text.Json;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Tools;

/// <summary><c>mlquant</c> run as a user runs it, in a child process: image (and evaluate) on a colour data set of its own with one corrupt file, text on a TSV with a row without a label.</summary>
public class MlquantTests
{
    private static readonly string Tool = Path.Combine(AppContext.BaseDirectory, "mlquant.dll");

    [Fact]
    public void TrainsQuantizesAndWritesTheModelMetricsReportAndConsumptionCode()
    {
        using var temp = RepoPaths.TempDirectory();
        string dataset = Path.Combine(temp.Path, "colours"), output = Path.Combine(temp.Path, "out");
        ColourImages.WriteClassFolders(dataset, perClass: 40, seed: 3);
        File.WriteAllBytes(Path.Combine(dataset, "green", "broken.jpg"), new byte[] { 0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3 }); // a truncated JPEG

        string log = ProcessRunner.Run("dotnet", new[] { Tool, "image", "--dataset", dataset, "--size", "24", "--epochs", "4", "--target-bits", "2", "--out", output },
            timeout: TimeSpan.FromMinutes(6));
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
        string evaluated = ProcessRunner.Run("dotnet", new[] { Tool, "evaluate", Path.Combine(output, "model.zip"), "--dataset", dataset });
        Assert.Contains("on 120 examples", evaluated);
        Assert.Contains("Skipped (1): green/broken.jpg", evaluated);

        // The consumption code compiles and predicts the class of a new image of another size.
        string image = Path.Combine(temp.Path, "new.png");
        File.WriteAllBytes(image, ColourImages.Encode(ColourImages.Draw(2, 50, 30, new Random(11)), SkiaSharp.SKEncodedImageFormat.Png));
        Assert.Equal("blue", Predict(File.ReadAllText(Path.Combine(output, "MLQuantModel.cs")), Path.Combine(output, "model.zip"), "ImagePath", image));
    }

    [Fact]
    public void TextTrainsOnATsvAndWritesTheSameOutputs()
    {
        using var temp = RepoPaths.TempDirectory();
        string dataset = Path.Combine(temp.Path, "mail.tsv"), output = Path.Combine(temp.Path, "out");
        var random = new Random(5);
        string[] spam = { "cheap", "pills", "win", "money", "offer", "prize" }, ham = { "meeting", "notes", "project", "attached", "review", "patch" };
        string Sentence(string[] words) => string.Join(' ', Enumerable.Range(0, 6).Select(_ => words[random.Next(words.Length)]));
        File.WriteAllLines(dataset, new[] { "Text\tCategory" }
            .Concat(Enumerable.Range(0, 160).Select(i => i % 2 == 0 ? $"{Sentence(spam)}\tspam" : $"{Sentence(ham)}\tham"))
            .Append("a row whose label is missing\t"));

        string log = ProcessRunner.Run("dotnet", new[] { Tool, "text", "--dataset", dataset, "--label-column", "Category", "--sequence-length", "8", "--epochs", "4", "--out", output },
            timeout: TimeSpan.FromMinutes(6));
        Assert.Contains("1 without a label, skipped", log);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")));
        Assert.True(metrics.RootElement.GetProperty("Accuracy").GetDouble() >= 0.95, log);
        Assert.Equal(new[] { "row 162: no label" }, metrics.RootElement.GetProperty("Skipped").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal("spam", Predict(File.ReadAllText(Path.Combine(output, "MLQuantModel.cs")), Path.Combine(output, "model.zip"), "Text", "win cheap money prize"));
    }

    [Theory]
    [InlineData("text --dataset missing.tsv", "No data set file")]
    [InlineData("evaluate missing.zip --dataset .", "No model at")]
    [InlineData("image", "Option '--dataset' is required")]
    [InlineData("image --dataset /nonexistent/mlquant", "No data set folder")]
    [InlineData("image --dataset . --size 8", "--size takes 16 to 224")]
    [InlineData("image --dataset . --model AlexNet", "--model takes VggSmall, ResNet20, LeNet5")]
    [InlineData("text --dataset missing.tsv --validation-fraction 1.5", "--validation-fraction takes a share between 0 and 1")]
    public void ACommandLineItCannotUseExitsWith2AndSaysWhy(string arguments, string message)
    {
        using var temp = RepoPaths.TempDirectory();
        var (code, output) = ProcessRunner.TryRun("dotnet", new[] { Tool }.Concat(arguments.Split(' ')), temp.Path);
        Assert.Equal(2, code);
        Assert.Contains(message, output);
        Assert.DoesNotContain("   at ", output);
    }

    /// <summary>Compiles the generated code, sets its model path and predicts the input whose <paramref name="property"/> is <paramref name="value"/>.</summary>
    private static string Predict(string code, string modelPath, string property, string value)
    {
        var compilation = CSharpCompilation.Create("Consumption", new[] { CSharpSyntaxTree.ParseText(code) }, CompilationReferences.Value,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        using var assembly = new MemoryStream();
        var emitted = compilation.Emit(assembly);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));
        var type = System.Reflection.Assembly.Load(assembly.ToArray()).GetType("MLQuantModel")!;
        type.GetProperty("ModelPath")!.SetValue(null, modelPath);
        var inputType = type.GetNestedType("ModelInput")!;
        var input = Activator.CreateInstance(inputType)!;
        inputType.GetProperty(property)!.SetValue(input, value);
        var output = type.GetMethod("Predict")!.Invoke(null, new[] { input })!;
        return (string)output.GetType().GetProperty("PredictedClass")!.GetValue(output)!;
    }
}
