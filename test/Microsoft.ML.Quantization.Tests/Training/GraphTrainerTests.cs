using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.MLNet.Data;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Microsoft.ML.Quantization.Training;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Training;

public class GraphTrainerTests
{
    private static TrainingData Load(string split, int count)
    {
        var (images, _, _) = IdxReader.ReadImages(RepoPaths.Subset("fashion-mnist", $"{split}-images-idx3-ubyte.gz"));
        byte[] labels = IdxReader.ReadLabels(RepoPaths.Subset("fashion-mnist", $"{split}-labels-idx1-ubyte.gz"));
        var pixels = images.Take(count).SelectMany(i => i).Select(b => b / 255f).ToArray();
        return new TrainingData(tensor(pixels).reshape(count, 1, 28, 28), tensor(labels.Take(count).Select(l => (long)l).ToArray()));
    }

    private static TrainingOptions Options(int epochs, string? checkpoints = null) =>
        new() { Epochs = epochs, BatchSize = 64, LearningRate = 2e-3, Seed = 5, CheckpointDirectory = checkpoints };

    [Theory]
    [InlineData(LearningRateSchedule.Cosine)]
    [InlineData(LearningRateSchedule.Step)]
    [InlineData(LearningRateSchedule.Constant)]
    public void StagesSharingAScheduleRunTheRatesOfOneRun(LearningRateSchedule schedule)
    {
        var whole = new TrainingOptions { Epochs = 5, LearningRate = 0.1, Schedule = schedule };
        var rates = Enumerable.Range(1, 5).Select(whole.RateAt).ToArray();
        // Stages of 1, 1 and 3 epochs continuing one 5-epoch schedule.
        var staged = new[] { (1, 0), (1, 1), (3, 2) }.SelectMany(s => Enumerable.Range(1, s.Item1).Select(whole.ForStage(s.Item1, s.Item2, 5).RateAt)).ToArray();
        Assert.Equal(rates, staged);
        // A stage on its own schedule restarts at the full rate.
        Assert.Equal(0.1, whole.ForStage(3).RateAt(1));
        if (schedule != LearningRateSchedule.Constant) Assert.True(rates[^1] < rates[0] / 2, string.Join(", ", rates));
    }

    [Fact]
    public void FullPrecisionAndQuantizedLeNetLearnFashionMnist()
    {
        using var train = Load("train", 3000);
        using var test = Load("t10k", 500);
        var reports = new List<TrainingProgress>();
        var options = Options(3);
        options.Progress = new SynchronousProgress<TrainingProgress>(reports.Add);
        var trainer = new GraphTrainer(options, "FP32 training");
        using var fp32 = trainer.CreateModule(NetworkGraphs.LeNet5());
        var history = trainer.Train(fp32, train);
        double fp32Accuracy = GraphTrainer.Accuracy(fp32, test, 256);

        var quantizedTrainer = new GraphTrainer(Options(3), "QAT");
        using var w3a3 = quantizedTrainer.CreateModule(Qag.Prepare(NetworkGraphs.LeNet5(), new QagOptions
        {
            Weights = new(QuantizationScheme.PotQ, 3, QuantizationGranularity.PerOutputChannel),
            Activations = new(QuantizationScheme.ClipQ, 3),
        }));
        quantizedTrainer.Train(w3a3, train);
        double quantizedAccuracy = GraphTrainer.Accuracy(w3a3, test, 256);

        Assert.Equal(3, history.Count);
        Assert.True(history[2].Loss < history[0].Loss);
        Assert.True(fp32Accuracy > 0.70, $"FP32 accuracy {fp32Accuracy:P1}");
        Assert.True(quantizedAccuracy > 0.5, $"W3A3 accuracy {quantizedAccuracy:P1}");
        Assert.Equal(3 * 47, reports.Count); // every batch of every epoch
        Assert.Equal(TimeSpan.Zero, reports[^1].Remaining);
    }

    [Fact]
    public void SameSeedRepeatsTheRunAndCheckpointsResume()
    {
        using var train = Load("train", 640);
        using var temp = RepoPaths.TempDirectory();
        float[] Weights(GraphModule m) => m.parameters().SelectMany(p => p.detach().cpu().data<float>().ToArray()).ToArray();

        var trainer = new GraphTrainer(Options(2), "run");
        using var straight = trainer.CreateModule(NetworkGraphs.LeNet5());
        trainer.Train(straight, train);

        // One epoch with checkpoints, then a "restarted" run of two epochs on the same directory.
        var first = new GraphTrainer(Options(1, temp.Path), "run");
        using (var interrupted = first.CreateModule(NetworkGraphs.LeNet5())) first.Train(interrupted, train);
        var resumedTrainer = new GraphTrainer(Options(2, temp.Path), "run");
        using var resumed = resumedTrainer.CreateModule(NetworkGraphs.LeNet5());
        var history = resumedTrainer.Train(resumed, train);

        Assert.Single(history); // only epoch 2 ran
        Assert.Equal(2, history[0].Epoch);
        // Weights, Adam's moments, the shuffle and the training draws are all restored: the same model exactly.
        float[] a = Weights(straight);
        Assert.Equal(a, Weights(resumed));

        var again = new GraphTrainer(Options(2), "run");
        using var repeat = again.CreateModule(NetworkGraphs.LeNet5());
        again.Train(repeat, train);
        Assert.Equal(a, Weights(repeat));
    }

    [Fact]
    public void ACheckpointOfAnotherNetworkIsNotResumed()
    {
        using var train = Load("train", 128);
        using var temp = RepoPaths.TempDirectory();
        var first = new GraphTrainer(Options(1, temp.Path), "stage");
        using (var twoBit = first.CreateModule(Qag.Prepare(NetworkGraphs.LeNet5(), new QagOptions { Weights = new(QuantizationScheme.ClipQ, 2) }))) first.Train(twoBit, train);
        var logged = new List<string>();
        var second = new GraphTrainer(Options(1, temp.Path), "stage", logged.Add);
        using var threeBit = second.CreateModule(Qag.Prepare(NetworkGraphs.LeNet5(), new QagOptions { Weights = new(QuantizationScheme.ClipQ, 3) }));
        Assert.Single(second.Train(threeBit, train)); // trained afresh, not resumed from the 2-bit network
        Assert.Contains(logged, m => m.Contains("belongs to another network"));
        var third = new GraphTrainer(Options(1, temp.Path), "stage");
        using var same = third.CreateModule(Qag.Prepare(NetworkGraphs.LeNet5(), new QagOptions { Weights = new(QuantizationScheme.ClipQ, 3) }));
        Assert.Empty(third.Train(same, train)); // the same network resumes
    }

    [Fact]
    public void NonFiniteInputStopsWithAClearError()
    {
        using var data = new TrainingData(zeros(64, 1, 28, 28).FillInPlace(float.NaN), zeros(64, ScalarType.Int64));
        var trainer = new GraphTrainer(Options(1), "FP32 training");
        using var model = trainer.CreateModule(NetworkGraphs.LeNet5());
        var error = Assert.Throws<InvalidOperationException>(() => trainer.Train(model, data));
        Assert.Contains("epoch 1, batch 1", error.Message);
    }

    [Fact]
    public void TextLstmGraphTrainsOnTokenIds()
    {
        var graph = Qag.Prepare(NetworkGraphs.TextLstm(vocabulary: 50, sequenceLength: 12, embedding: 8, hidden: 16));
        // Class 1 iff token 7 occurs.
        var random = new Random(3);
        var ids = Enumerable.Range(0, 256 * 12).Select(_ => (long)random.Next(1, 50)).ToArray();
        var labels = Enumerable.Range(0, 256).Select(i => ids.Skip(i * 12).Take(12).Contains(7L) ? 1L : 0L).ToArray();
        using var data = new TrainingData(tensor(ids).reshape(256, 12), tensor(labels));
        var options = Options(8);
        options.LearningRate = 1e-2;
        var trainer = new GraphTrainer(options, "text");
        using var model = trainer.CreateModule(graph);
        var history = trainer.Train(model, data);
        Assert.True(history[^1].Loss < history[0].Loss, $"loss {history[0].Loss} -> {history[^1].Loss}");
    }
}
