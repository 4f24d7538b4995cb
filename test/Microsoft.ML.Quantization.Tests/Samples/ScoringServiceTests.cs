using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Samples.ScoringService;
using Microsoft.ML.Quantization.Samples.ScoringService.Load;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using SkiaSharp;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Samples;

/// <summary>The ASP.NET scoring service: in memory through WebApplicationFactory, and once through real Kestrel.</summary>
public class ScoringServiceTests : IClassFixture<ScoringServiceTests.Service>
{
    private static readonly string ModelPath = RepoPaths.ImageClassifierFixture;

    /// <summary>The service over the v2 fixture model, with a 64 KiB body limit.</summary>
    public sealed class Service : WebApplicationFactory<ServedModel>
    {
        protected override void ConfigureWebHost(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder) =>
            builder.UseSetting("Model", ModelPath).UseSetting("MaxRequestBytes", "65536");
    }

    private readonly Service service;

    public ScoringServiceTests(Service service) => this.service = service;

    private static float[][] TestImages(int count)
    {
        var ml = new MLContext();
        var images = ml.Data.LoadFromIdxImages(RepoPaths.Subset("fashion-mnist", "t10k-images-idx3-ubyte.gz"), RepoPaths.Subset("fashion-mnist", "t10k-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames);
        return images.GetColumn<float[]>(DatasetCatalog.PixelsColumn).Take(count).ToArray();
    }

    [Fact]
    public async Task APixelModelTakesJsonPixelsLikeTheModelItself()
    {
        var client = service.CreateClient();
        using var model = new ServedModel(ModelPath);
        Assert.Equal(ServedInputKind.Pixels, model.Kind);
        foreach (var pixels in TestImages(10))
        {
            var expected = model.Predict(pixels);
            var fromJson = await (await client.PostAsJsonAsync("/predict", new { pixels })).Content.ReadFromJsonAsync<PredictResponse>();
            Assert.Equal(expected.Label, fromJson!.Label);
            Assert.Equal(expected.Scores, fromJson.Scores);
        }
        // The service decodes nothing itself: a PNG means nothing to a model whose pipeline starts at pixels.
        var png = await client.PostAsync("/predict", new ByteArrayContent(ColourImages.Encode(ColourImages.Draw(0, 28, 28, new Random(1)), SKEncodedImageFormat.Png)));
        Assert.Equal(HttpStatusCode.BadRequest, png.StatusCode);
        Assert.Contains("784 values", await png.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task AColourImagePipelineScoresPostedImagesOfAnySizeThroughItsOwnTransforms()
    {
        using var folder = RepoPaths.TempDirectory();
        string modelPath = ColourImages.TrainPipeline(folder.Path);
        await using var factory = new WebApplicationFactory<ServedModel>().WithWebHostBuilder(b => b.UseSetting("Model", modelPath));
        var client = factory.CreateClient();
        using var description = JsonDocument.Parse(await client.GetStringAsync("/model"));
        Assert.Equal("image", description.RootElement.GetProperty("input").GetString());
        Assert.Equal("Path", description.RootElement.GetProperty("inputColumn").GetString());
        Assert.Equal(new[] { 3, 24, 24 }, description.RootElement.GetProperty("inputShape").EnumerateArray().Select(d => d.GetInt32()));

        // What the saved pipeline itself predicts for the same file: the service must answer the same.
        var ml = new MLContext();
        ml.ComponentCatalog.RegisterQuantization();
        var engine = ml.Model.CreatePredictionEngine<ColourImages.Row, ColourImages.Prediction>(ml.Model.Load(modelPath, out _));
        var random = new Random(9);
        for (int i = 0; i < 6; i++)
        {
            var format = i % 2 == 0 ? SKEncodedImageFormat.Jpeg : SKEncodedImageFormat.Png;
            byte[] bytes = ColourImages.Encode(ColourImages.Draw(i % 3, random.Next(16, 60), random.Next(16, 60), random), format);
            string file = Path.Combine(folder.Path, $"posted-{i}");
            File.WriteAllBytes(file, bytes);
            var expected = engine.Predict(new ColourImages.Row { Path = file });
            var response = await client.PostAsync("/predict", new ByteArrayContent(bytes) { Headers = { ContentType = new(format == SKEncodedImageFormat.Jpeg ? "image/jpeg" : "image/png") } });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var answer = (await response.Content.ReadFromJsonAsync<PredictResponse>())!;
            Assert.Equal(expected.PredictedClass, answer.Label);
            Assert.Equal(expected.Score.Max(), answer.Scores.Values.Max(), 5);
        }
        var corrupt = await client.PostAsync("/predict", new ByteArrayContent(new byte[] { 0xFF, 0xD8, 0xFF, 1, 2, 3 }));
        var json = await client.PostAsJsonAsync("/predict", new { pixels = new float[5] });
        foreach (var bad in new[] { corrupt, json })
        {
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
            Assert.Contains("image's bytes", await bad.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task ATextModelTakesTextAsJsonOrPlainText()
    {
        using var folder = RepoPaths.TempDirectory();
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, 96).Select(i => new TextRow { Text = i % 2 == 0 ? $"cheap pills offer {i} win money now" : $"meeting notes for project {i} attached", Label = i % 2 == 0 ? "spam" : "ham" }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows);
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.TextLstm(new TextLstmOptions { Epochs = 2, SequenceLength = 12, EmbeddingSize = 8, HiddenSize = 8, VocabularySize = 200 }))
            .Fit(data);
        string modelPath = Path.Combine(folder.Path, "text.zip");
        ml.Model.Save(model, data.Schema, modelPath);

        await using var factory = new WebApplicationFactory<ServedModel>().WithWebHostBuilder(b => b.UseSetting("Model", modelPath));
        var client = factory.CreateClient();
        using var served = new ServedModel(modelPath);
        Assert.Equal(ServedInputKind.Text, served.Kind);
        foreach (string text in new[] { "win cheap money", "project meeting attached" })
        {
            var expected = served.PredictText(text);
            var fromJson = (await (await client.PostAsJsonAsync("/predict", new { text })).Content.ReadFromJsonAsync<PredictResponse>())!;
            var fromPlain = (await (await client.PostAsync("/predict", new StringContent(text))).Content.ReadFromJsonAsync<PredictResponse>())!;
            Assert.Equal(expected.Label, fromJson.Label);
            Assert.Equal(expected.Scores, fromJson.Scores);
            Assert.Equal(expected.Label, fromPlain.Label);
        }
        using var description = JsonDocument.Parse(await client.GetStringAsync("/model"));
        Assert.Equal("text", description.RootElement.GetProperty("input").GetString());
        Assert.Equal(new[] { "spam", "ham" }, description.RootElement.GetProperty("classes").EnumerateArray().Select(c => c.GetString()));
    }

    private sealed class TextRow
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    [Fact]
    public async Task HealthAndModelDescribeTheService()
    {
        var client = service.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
        using var model = JsonDocument.Parse(await client.GetStringAsync("/model"));
        Assert.Equal(DatasetCatalog.FashionMnistClassNames, model.RootElement.GetProperty("classes").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(new[] { 1, 28, 28 }, model.RootElement.GetProperty("inputShape").EnumerateArray().Select(d => d.GetInt32()));
    }

    [Fact]
    public async Task BadBodiesAreClientErrorsWithoutStackTraces()
    {
        var client = service.CreateClient();
        var notJson = await client.PostAsync("/predict", new ByteArrayContent(new byte[] { 1, 2, 3, 4 }) { Headers = { ContentType = new("image/png") } });
        var shortJson = await client.PostAsJsonAsync("/predict", new { pixels = new float[5] });
        var brokenJson = await client.PostAsync("/predict", new StringContent("{\"pixels\": [1, 2", System.Text.Encoding.UTF8, "application/json"));
        var tooLarge = await client.PostAsync("/predict", new ByteArrayContent(new byte[70_000]) { Headers = { ContentType = new("image/png") } });
        foreach (var (response, status) in new[] { (notJson, HttpStatusCode.BadRequest), (shortJson, HttpStatusCode.BadRequest), (brokenJson, HttpStatusCode.BadRequest), (tooLarge, HttpStatusCode.RequestEntityTooLarge) })
        {
            Assert.Equal(status, response.StatusCode);
            string text = await response.Content.ReadAsStringAsync();
            Assert.DoesNotContain("   at ", text);
            Assert.DoesNotContain("Exception", text);
        }
        Assert.Contains("784 values", await shortJson.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task ServesThroughKestrelOnLoopback()
    {
        using var process = await LoopbackService.StartAsync(ModelPath);
        using var client = new HttpClient { BaseAddress = process.Address };
        var pixels = TestImages(1)[0];
        var response = await (await client.PostAsJsonAsync("/predict", new { pixels })).Content.ReadFromJsonAsync<PredictResponse>();
        Assert.Equal(new ServedModel(ModelPath).Predict(pixels).Label, response!.Label);
    }

    [Fact]
    public async Task SoakThroughKestrelKeepsMemoryFlatAndAnswersLikeOneThread()
    {
        var pixels = TestImages(100);
        using var reference = new ServedModel(ModelPath);
        var expected = pixels.Select(p => reference.Predict(p)).ToArray();
        using var process = await LoopbackService.StartAsync(ModelPath);
        // A fixed amount of work, not of time (throughput belongs to the service-load benchmark); the duration only guards a hang.
        const int requests = 400;
        var soak = await ServiceSoak.RunAsync(process, pixels.Select(p => (Func<HttpContent>)(() => JsonContent.Create(new { pixels = p }))).ToList(), expected, clients: 4, ProcessRunner.HangGuard, maxRequests: requests);
        Assert.Equal(0, soak.Errors);
        Assert.Equal(0, soak.Mismatches);
        Assert.Equal(requests, soak.Requests);
        // Flat: the warmed-up service may settle its heaps but must not grow with the request count.
        Assert.True(soak.WorkingSetEndBytes < soak.WorkingSetStartBytes + (64L << 20),
            $"working set {soak.WorkingSetStartBytes >> 20} → {soak.WorkingSetEndBytes >> 20} MiB over {soak.Requests} requests");
    }
}
