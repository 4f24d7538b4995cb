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
    public sealed class Service : WebApplicationFactory<Program>
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

    private static byte[] Png(float[] pixels) => Encode(pixels, SKEncodedImageFormat.Png);

    private static byte[] Encode(float[] pixels, SKEncodedImageFormat format)
    {
        using var bitmap = new SKBitmap(28, 28, SKColorType.Gray8, SKAlphaType.Opaque);
        for (int i = 0; i < 784; i++) bitmap.SetPixel(i % 28, i / 28, new SKColor((byte)pixels[i], (byte)pixels[i], (byte)pixels[i]));
        using var data = bitmap.Encode(format, 100);
        return data.ToArray();
    }

    [Fact]
    public async Task PredictsFromPngAndJsonLikeTheModelItself()
    {
        var client = service.CreateClient();
        var model = new ImageModel(ModelPath);
        foreach (var pixels in TestImages(10))
        {
            var expected = model.Predict(pixels);
            var fromJson = await (await client.PostAsJsonAsync("/predict", new { pixels })).Content.ReadFromJsonAsync<PredictResponse>();
            var fromPng = await (await client.PostAsync("/predict", new ByteArrayContent(Png(pixels)) { Headers = { ContentType = new("image/png") } })).Content.ReadFromJsonAsync<PredictResponse>();
            Assert.Equal(expected.Label, fromJson!.Label);
            Assert.Equal(expected.Scores, fromJson.Scores);
            Assert.Equal(expected.Label, fromPng!.Label); // the PNG holds the same bytes, so the same pixels
            Assert.Equal(expected.Scores, fromPng.Scores);
        }
    }

    [Fact]
    public async Task PredictsFromJpegLikeTheModelOnTheDecodedPixels()
    {
        var client = service.CreateClient();
        var model = new ImageModel(ModelPath);
        foreach (var pixels in TestImages(5))
        {
            byte[] jpeg = Encode(pixels, SKEncodedImageFormat.Jpeg);
            Assert.Equal(new byte[] { 0xFF, 0xD8 }, jpeg[..2]);
            // JPEG is lossy: the service must answer as the model does on the grey levels the JPEG decodes to.
            using var decoded = SKBitmap.Decode(jpeg);
            var grey = Enumerable.Range(0, 784).Select(i => (float)decoded.GetPixel(i % 28, i / 28).Red).ToArray();
            var response = await client.PostAsync("/predict", new ByteArrayContent(jpeg) { Headers = { ContentType = new("image/jpeg") } });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var answer = (await response.Content.ReadFromJsonAsync<PredictResponse>())!;
            var expected = model.Predict(grey);
            Assert.Equal(expected.Label, answer.Label);
            Assert.Equal(1.0, answer.Scores.Values.Sum(), 3);
        }
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
        var notImage = await client.PostAsync("/predict", new ByteArrayContent(new byte[] { 1, 2, 3, 4 }) { Headers = { ContentType = new("image/png") } });
        var shortJson = await client.PostAsJsonAsync("/predict", new { pixels = new float[5] });
        var brokenJson = await client.PostAsync("/predict", new StringContent("{\"pixels\": [1, 2", System.Text.Encoding.UTF8, "application/json"));
        var tooLarge = await client.PostAsync("/predict", new ByteArrayContent(new byte[70_000]) { Headers = { ContentType = new("image/png") } });
        foreach (var (response, status) in new[] { (notImage, HttpStatusCode.BadRequest), (shortJson, HttpStatusCode.BadRequest), (brokenJson, HttpStatusCode.BadRequest), (tooLarge, HttpStatusCode.RequestEntityTooLarge) })
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
        Assert.Equal(new ImageModel(ModelPath).Predict(pixels).Label, response!.Label);
    }

    [Fact]
    public async Task SoakThroughKestrelKeepsMemoryFlatAndAnswersLikeOneThread()
    {
        var pixels = TestImages(100);
        var reference = new ImageModel(ModelPath);
        var expected = pixels.Select(p => reference.Predict(p)).ToArray();
        using var process = await LoopbackService.StartAsync(ModelPath);
        // A fixed amount of work, not of time (throughput belongs to the service-load benchmark); the duration only guards a hang.
        const int requests = 400;
        var soak = await ServiceSoak.RunAsync(process, pixels, expected, clients: 4, TimeSpan.FromMinutes(10), maxRequests: requests);
        Assert.Equal(0, soak.Errors);
        Assert.Equal(0, soak.Mismatches);
        Assert.Equal(requests, soak.Requests);
        // Flat: the warmed-up service may settle its heaps but must not grow with the request count.
        Assert.True(soak.WorkingSetEndBytes < soak.WorkingSetStartBytes + (64L << 20),
            $"working set {soak.WorkingSetStartBytes >> 20} → {soak.WorkingSetEndBytes >> 20} MiB over {soak.Requests} requests");
    }
}
