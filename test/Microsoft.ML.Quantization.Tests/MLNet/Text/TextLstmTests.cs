using Microsoft.ML.Quantization.MLNet.Text;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.MLNet.Text;

public class TextLstmTests
{
    public class Mail
    {
        public string Text { get; set; } = "";
        public string Label { get; set; } = "";
    }

    public class Verdict
    {
        public float[] Score { get; set; } = Array.Empty<float>();
        public string PredictedClass { get; set; } = "";
    }

    [Fact]
    public void LearnsSpamAndRoundTripsWithItsVocabulary()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromLabeledTextTsv(RepoPaths.Subset("spam-assassin", "train.tsv.gz"));
        var test = ml.Data.LoadFromLabeledTextTsv(RepoPaths.Subset("spam-assassin", "test.tsv.gz"));
        var options = new TextLstmOptions { Epochs = 4, SequenceLength = 48, EmbeddingSize = 16, HiddenSize = 32, VocabularySize = 4000, LearningRate = 5e-3, BatchSize = 32 };
        var model = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.TextLstm(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedClass", "PredictedLabel"))
            .Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));
        Assert.True(metrics.MicroAccuracy > 0.85, $"accuracy {metrics.MicroAccuracy:P1}");

        using var temp = RepoPaths.TempDirectory();
        ml.Model.Save(model, train.Schema, temp.File("text.zip"));
        var fresh = new MLContext();
        fresh.ComponentCatalog.RegisterQuantization();
        var loaded = fresh.Model.Load(temp.File("text.zip"), out _);
        var before = ml.Model.CreatePredictionEngine<Mail, Verdict>(model);
        var after = fresh.Model.CreatePredictionEngine<Mail, Verdict>(loaded);
        var mails = ml.Data.CreateEnumerable<Mail>(test, reuseRowObject: false).Take(20)
            .Append(new Mail { Text = "" })
            .Append(new Mail { Text = "zqxv wvut qqqq never seen tokens" })
            .Append(new Mail { Text = string.Concat(Enumerable.Repeat("free money now ", 200_000)) });
        foreach (var mail in mails)
        {
            var expected = before.Predict(mail);
            var actual = after.Predict(mail);
            Assert.Equal(expected.Score, actual.Score);
            Assert.Contains(actual.PredictedClass, new[] { "ham", "spam" });
            Assert.Equal(1f, actual.Score.Sum(), 3);
        }
    }

    [Fact]
    public void VocabularyEncodesLeftPaddedWithUnknownIds()
    {
        var vocabulary = TextVocabulary.Build(new[] { "Win money, win!", "money talks", "win" }, maxSize: 10);
        Assert.Equal(new[] { "win", "money" }, vocabulary.Tokens); // seen at least twice, most frequent first
        long[] ids = vocabulary.Encode("WIN big money", 5);
        Assert.Equal(new long[] { 0, 0, 2, TextVocabulary.UnknownId, 3 }, ids);
        Assert.Equal(new long[] { 2, 2 }, vocabulary.Encode("win win win win", 2));
        // A long text keeps its first half and its last half of the window; runs holding a digit are skipped.
        Assert.Equal(new long[] { 2, TextVocabulary.UnknownId, TextVocabulary.UnknownId, 3 }, vocabulary.Encode("win a 2002 b c d e money", 4));
        Assert.Equal(new long[] { 0, 3, 2 }, vocabulary.Encode("money id42 win", 3));
        Assert.All(vocabulary.Encode(null, 3), id => Assert.Equal(TextVocabulary.PaddingId, id));
    }
}
