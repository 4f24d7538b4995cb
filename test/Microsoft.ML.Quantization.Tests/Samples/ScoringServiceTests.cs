using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Samples.ScoringService;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using SkiaSharp;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Samples;

/// <summary>The ASP.NET scoring service: in memory through WebApplicationFactory, and once through real Kestrel.</summary>
public class ScoringServiceTests : IClassFixture<ScoringServiceTests.Service>
{
    private static readonly string ModelPath = Path.Combine(RepoPaths.Root, "test", "Microsoft.ML.Quantization.Tests", "Fixtures", "image-classifier-v2.zip");

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

    private static byte[] Png(float[] pixels)
    {
        using var bitmap = new SKBitmap(28, 28, SKColorType.Gray8, SKAlphaType.Opaque);
        for (int i = 0; i < 784; i++) bitmap.SetPixel(i % 28, i / 28, new SKColor((byte)pixels[i], (byte)pixels[i], (byte)pixels[i]));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
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
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        string dll = Path.Combine(AppContext.BaseDirectory, "ScoringService.dll");
        using var process = Process.Start(new ProcessStartInfo("dotnet", $"\"{dll}\" --urls http://127.0.0.1:{port} --Model \"{ModelPath}\"")
        {
            UseShellExecute = false, // output not redirected: an unread pipe would fill and stall the service
        })!;
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                try
                {
                    if ((await client.GetAsync("/health")).IsSuccessStatusCode) break;
                }
                catch (HttpRequestException) when (DateTime.UtcNow < deadline && !process.HasExited)
                {
                    await Task.Delay(200);
                }
            }
            var pixels = TestImages(1)[0];
            var response = await (await client.PostAsJsonAsync("/predict", new { pixels })).Content.ReadFromJsonAsync<PredictResponse>();
            Assert.Equal(new ImageModel(ModelPath).Predict(pixels).Label, response!.Label);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
        }
    }
}
