using System.Text.Json;
using Microsoft.ML.Data;
using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Search;
using Microsoft.ML.Quantization.Training;

namespace Microsoft.ML.Quantization.Samples.Benchmarks;

/// <summary>One configuration of the automatic quantization benchmark.</summary>
internal sealed record AutoResult(string Configuration, double TestAccuracy, double? AverageWeightBits, double? AverageActivationBits,
    int Epochs, IReadOnlyList<StageRecord> Stages, double? SearchCostRatio, IReadOnlyList<LayerQuantization> Layers);

/// <summary>
/// The issue's table on Fashion-MNIST VggSmall (or ResNet20) or SpamAssassin TextLstm: FP32, each fixed single scheme at 3 bits
/// (AutoQNN Table 7 rows), automatic quantization at 3 bits (layer-wise, model-wise) and 2 bits, DQA at 2 bits
/// and plain 2-bit QAT. Every quantized configuration starts from the same FP32 model, trained first in this
/// process (so the QSS/FP32 epoch ratio is measured in one run). Results are written after each configuration;
/// each configuration checkpoints every stage, so a rerun resumes. ResNet20's rows share the image table, named after it
/// ("ResNet20 FP32", "ResNet20 auto W2A2 layer-wise"), each a delta from its own FP32 row.
/// </summary>
internal static class AutoQuantizationBenchmark
{
    /// <summary>The name's mark on the rows of the curvature gap's first form, which no option reproduces.</summary>
    private const string WeightsOnlyGap = ", weights-only constant gap";

    /// <summary>The search's curvature weight unless <c>--curvature-weight</c> sets another; a row names its weight only where it differs.</summary>
    private static readonly double DefaultCurvatureWeight = new SchemeSearchOptions().CurvatureWeight;

    /// <summary>The search's entropy weight unless <c>--entropy-weight</c> sets another; a row names its weight only where it differs.</summary>
    private static readonly double DefaultEntropyWeight = new SchemeSearchOptions().EntropyWeight;

    /// <summary>The image table's other network; VggSmall's rows carry no name.</summary>
    private const string ResNet20 = "ResNet20";

    private static readonly (string Label, QuantizationScheme Weights, QuantizationScheme Activations)[] FixedRows =
    {
        ("C-3/C-3", QuantizationScheme.ClipQ, QuantizationScheme.ClipQ), ("P-3/3", QuantizationScheme.PotQ, QuantizationScheme.PotQ),
        ("F-3/3", QuantizationScheme.FixedQ, QuantizationScheme.FixedQ), ("Z-3/3", QuantizationScheme.ZoomQ, QuantizationScheme.ZoomQ),
        ("R-3/3", QuantizationScheme.ResQ, QuantizationScheme.ResQ), ("B-1/3", QuantizationScheme.Binary, QuantizationScheme.ClipQ),
        ("T-2/3", QuantizationScheme.Ternary, QuantizationScheme.ClipQ), ("Q-2/3", QuantizationScheme.Quaternary, QuantizationScheme.ClipQ),
    };

    /// <summary>
    /// QSS epochs of the text rows. A SpamAssassin epoch is 75 batches (VggSmall's 469): after one, θ stayed near
    /// uniform (softmax 0.11–0.17 over the weight candidates), so the argmax was noise, Binary on the classifier once.
    /// Two, the most the search may take; with the curvature gap auto W2A2's vertices end them at 0.86–1.00.
    /// </summary>
    private const int TextSearchEpochs = 2;

    /// <summary>
    /// Runs the table's rows (those named in <paramref name="only"/>, or all). A <paramref name="seed"/> other than 1
    /// reseeds the stages after FP32 (batch order, Gumbel noise, calibration sample) and names the rows "… (seed N)",
    /// to show how far a row moves by chance; the FP32 model stays the same. <paramref name="model"/> picks the image network
    /// (VggSmall or ResNet20). <paramref name="fineTuneEpochs"/>, where given, replaces the rows' fine-tuning epochs and names them
    /// "… with N fine-tuning epochs", and <paramref name="curvatureWeight"/> sets the search's <see cref="SchemeSearchOptions.CurvatureWeight"/>
    /// ("… with curvature weight W" where it differs from the default), and <paramref name="entropyWeight"/> its
    /// <see cref="SchemeSearchOptions.EntropyWeight"/> alike, so that they stand beside the rows of the table's own recipe.
    /// </summary>
    public static int Run(string task, string dataDir, string outDir, int fp32Epochs, int epochs, int limit, string? only, int seed, string model = "VggSmall", int? fineTuneEpochs = null, double? curvatureWeight = null, double? entropyWeight = null)
    {
        if (model is not ("VggSmall" or ResNet20) || (task != "image" && model != "VggSmall"))
            throw new UsageException($"unknown model '{model}' for auto-{task}; auto-image takes VggSmall or {ResNet20}, auto-text its TextLstm");
        string prefix = model == ResNet20 ? ResNet20 + " " : "";
        var ml = new MLContext(seed: 1);
        ml.Log += (_, e) => { if (StageLog.IsStageMessage(e.Message)) Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {e.Message}"); };
        bool image = task == "image";
        IDataView train = Load(ml, dataDir, image, train: true), test = Load(ml, dataDir, image, train: false);
        if (limit > 0) train = ml.Data.TakeRows(train, limit);
        string stem = $"auto-{task}", work = Path.Combine(outDir, "checkpoints", stem + (prefix.Length > 0 ? "-" + model.ToLowerInvariant() : ""));

        // FP32, trained here (resumed from its checkpoints on a rerun).
        var (fp32, fp32Options) = TrainFp32(ml, train, image, fp32Epochs, Path.Combine(work, "fp32"), model == ResNet20 ? NetworkGraphs.ResNet20(1, 28, DatasetCatalog.FashionMnistClassNames.Count) : null);
        var fp32Classifier = (GraphClassifierTransformerBase)fp32.LastTransformer;
        // Rows of an earlier run are kept, and replaced by name as this run produces them (a rerun with --only
        // adds or refreshes rows); the FP32 row keeps the epoch time of the run that trained it.
        var results = Read(outDir, stem);
        var fp32Stage = fp32Classifier.TrainingHistory.Count > 0
            ? new StageRecord("FP32 training", fp32Classifier.TrainingHistory.Count, fp32Classifier.TrainingHistory.Average(h => h.Seconds))
            : results.FirstOrDefault(r => r.Configuration == prefix + "FP32")?.Stages[0] ?? new StageRecord("FP32 training", 0, 0);
        double fp32Accuracy = Accuracy(ml, fp32, test);
        RefuseAnotherFp32(results, prefix + "FP32", fp32Accuracy, JsonPath(outDir, stem));
        Upsert(results, new AutoResult(prefix + "FP32", fp32Accuracy, null, null, fp32Epochs, new[] { fp32Stage }, null, Array.Empty<LayerQuantization>()));
        Write(outDir, stem, task, fp32Epochs, epochs, limit, results);

        foreach (var (configuration, targetBits, options) in Configurations(epochs, image ? 1 : TextSearchEpochs, image ? BestFixed(results, prefix) : null))
        {
            if (only is not null && !only.Split(',').Contains(configuration)) continue;
            if (fineTuneEpochs is int fineTune) options.FineTuneEpochs = fineTune;
            if (curvatureWeight is double curvature) options.Search.CurvatureWeight = curvature;
            if (entropyWeight is double entropy) options.Search.EntropyWeight = entropy;
            bool otherCurvature = curvatureWeight is double w && w != DefaultCurvatureWeight, otherEntropy = entropyWeight is double e && e != DefaultEntropyWeight;
            var changes = new[]
            {
                fineTuneEpochs is null ? null : $"{fineTuneEpochs} fine-tuning epochs", otherCurvature ? $"curvature weight {curvatureWeight}" : null,
                otherEntropy ? $"entropy weight {entropyWeight}" : null,
            }.OfType<string>().ToList();
            string recipe = changes.Count == 0 ? configuration : $"{configuration} with {string.Join(" and ", changes)}";
            string name = prefix + (seed == 1 ? recipe : $"{recipe} (seed {seed})");
            // The text model's first layer is its embedding table, most of its weights: at 8 bits it alone would hold
            // the weight average above 6, so the text rows quantize every layer.
            if (!image) options.Qag = new QagOptions { KeepFirstAndLastAt8Bits = false };
            options.Training = fp32Options.ForBenchmarkStage(Path.Combine(work, string.Concat(name.Where(char.IsLetterOrDigit))));
            options.Training.Seed = seed;
            var quantized = ml.Quantization().QuantizeAutomatically(fp32, train, targetBits, options);
            var classifier = (GraphClassifierTransformerBase)((TransformerChain<ITransformer>)quantized).LastTransformer;
            var report = classifier.QuantizationReport!;
            var stages = report.Stages.ToList();
            var row = new AutoResult(name, Accuracy(ml, quantized, test), report.AverageWeightBits, report.AverageActivationBits,
                (options.UseAttention ? options.AttentionEpochs : options.SearchEpochs + options.PrecisionEpochs) + options.FineTuneEpochs,
                stages.Where(s => s.Stage != "FP32 training").ToList(), report.SearchCostRatio, report.Layers);
            Upsert(results, row);
            Console.WriteLine($"{name}: test accuracy {row.TestAccuracy:P2}, W {report.AverageWeightBits:F2} / A {report.AverageActivationBits:F2} bits");
            File.WriteAllText(Path.Combine(outDir, $"{stem}-{string.Concat(name.Where(char.IsLetterOrDigit))}-history.json"), JsonSerializer.Serialize(new
            {
                report.SchemeHistory, report.BitHistory, report.AttentionHistory,
            }, new JsonSerializerOptions { WriteIndented = true }));
            Write(outDir, stem, task, fp32Epochs, epochs, limit, results);
        }
        return 0;
    }

    /// <summary>
    /// The quantized configurations: every row fine-tunes <paramref name="epochs"/> + 2 epochs (DQA's attention epoch
    /// counts as fine-tuning; the searches add <paramref name="searchEpochs"/> of QSS and one of QPL). Where
    /// <paramref name="bestFixed"/> (the best-scoring Table 7 row of earlier runs, with 8-bit first and last layers) has been scored, one more auto row
    /// targets its average bits, for the equal-bits comparison.
    /// </summary>
    private static IEnumerable<(string Name, int TargetBits, AutoQuantizationOptions Options)> Configurations(int epochs, int searchEpochs, AutoResult? bestFixed)
    {
        // The search stages come on top of the fine-tuning every fixed row gets; the schemes are compared at the
        // target width, where they will end (searched at the default 3 bits, auto W2A2 picked ZoomQ and PotQ, which
        // trained to 90.1 % at 2 bits against plain 2-bit ClipQ's 91.6 %).
        AutoQuantizationOptions Auto(SearchGranularity granularity, int bits) => new()
        {
            SearchEpochs = searchEpochs, PrecisionEpochs = 1, FineTuneEpochs = epochs + 2,
            // τ falls over the whole search as the default β does over one epoch (5 to 1), however many epochs it has.
            Search = new SchemeSearchOptions { Granularity = granularity, SearchBits = bits, TemperatureDecay = Math.Pow(new SchemeSearchOptions().TemperatureDecay, 1.0 / searchEpochs) },
        };
        yield return ("auto W3A3 layer-wise", 3, Auto(SearchGranularity.LayerWise, 3));
        yield return ("auto W2A2 layer-wise", 2, Auto(SearchGranularity.LayerWise, 2));
        yield return ("QAT W2A2 C-2/C-2", 2, Fixed(QuantizationScheme.ClipQ, QuantizationScheme.ClipQ, 2, epochs + 2));
        // One attention epoch takes the mix from the 8-bit branch to the 2-bit one; with two (T = 0.5 after the first)
        // the net spent about one epoch purely at 2 bits and ended below QAT (90.19 % against 90.41 %).
        yield return ("DQA W2A2 ClipQ 8/4/2", 2, new AutoQuantizationOptions { UseAttention = true, AttentionEpochs = 1, FineTuneEpochs = epochs + 1 });
        var rows = FixedRows.Select(r => (r.Label, 3, Fixed(r.Weights, r.Activations, 3, epochs + 2))).ToList();
        foreach (var row in rows.Take(2)) yield return row;
        yield return ("auto W3A3 model-wise", 3, Auto(SearchGranularity.ModelWise, 3));
        if (bestFixed is { AverageWeightBits: double w, AverageActivationBits: double a })
        {
            // Each kind is searched at the width its target rounds to (Q-2/3: weights at 2 bits, activations at 3), as
            // the W2A2 row is at 2: searched at 3, the three largest weight tensors took PotQ-3, which QPL cut to Binary
            // and PotQ-2 (92.19 % against Q-2/3's 92.57 %, session 8).
            var equalBits = Auto(SearchGranularity.LayerWise, 3);
            equalBits.TargetWeightBits = w;
            equalBits.TargetActivationBits = a;
            equalBits.Search.WeightSearchBits = Math.Clamp((int)Math.Round(w), 2, 8);
            equalBits.Search.ActivationSearchBits = Math.Clamp((int)Math.Round(a), 2, 8);
            yield return ($"auto layer-wise at {bestFixed.Configuration}'s bits", 3, equalBits);
        }
        foreach (var row in rows.Skip(2)) yield return row;
    }

    /// <summary>The best-scoring Table 7 row (seed 1) of the network named by <paramref name="prefix"/>, or null when none has been scored.</summary>
    private static AutoResult? BestFixed(IEnumerable<AutoResult> results, string prefix) =>
        results.Where(r => FixedRows.Any(f => prefix + f.Label == r.Configuration)).OrderByDescending(r => r.TestAccuracy).FirstOrDefault();

    private static AutoQuantizationOptions Fixed(QuantizationScheme weights, QuantizationScheme activations, int bits, int epochs) => new()
    {
        SearchEpochs = 0, PrecisionEpochs = 0, FineTuneEpochs = epochs,
        Search = new SchemeSearchOptions { SearchBits = bits, WeightCandidates = new[] { weights }, ActivationCandidates = new[] { activations } },
    };

    /// <summary>The training or test split of Fashion-MNIST (IDX files) or SpamAssassin (TSV files) under <paramref name="dataDir"/>.</summary>
    internal static IDataView Load(MLContext ml, string dataDir, bool image, bool train)
    {
        if (!image) return ml.Data.LoadFromLabeledTextTsv(Path.Combine(dataDir, train ? "train.tsv" : "test.tsv"));
        string split = train ? "train" : "t10k";
        return ml.Data.LoadFromIdxImages(Path.Combine(dataDir, $"{split}-images-idx3-ubyte.gz"), Path.Combine(dataDir, $"{split}-labels-idx1-ubyte.gz"), DatasetCatalog.FashionMnistClassNames);
    }

    /// <summary>
    /// Trains the table's FP32 model (VggSmall, or <paramref name="graph"/>, with SGD, or TextLstm on 128 tokens with Adam),
    /// resuming from <paramref name="checkpoints"/> where given, and returns it with its options.
    /// </summary>
    internal static (TransformerChain<ITransformer> Model, TrainingOptions Options) TrainFp32(MLContext ml, IDataView train, bool image, int epochs, string? checkpoints, NetworkGraph? graph = null)
    {
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label");
        if (image)
        {
            var o = new ImageClassifierOptions { FeatureColumnName = DatasetCatalog.PixelsColumn, CheckpointDirectory = checkpoints, Graph = graph };
            Configure(o, epochs, image);
            return (new TransformerChain<ITransformer>(keyed.Append(ml.MulticlassClassification.Trainers.ImageClassifier(o)).Fit(train).ToArray()), o);
        }
        var t = new TextLstmOptions { SequenceLength = 128, CheckpointDirectory = checkpoints };
        Configure(t, epochs, image);
        return (new TransformerChain<ITransformer>(keyed.Append(ml.MulticlassClassification.Trainers.TextLstm(t)).Fit(train).ToArray()), t);
    }

    private static void Configure(TrainingOptions o, int epochs, bool image)
    {
        o.Epochs = epochs;
        o.Seed = 1;
        if (image)
        {
            o.BatchSize = 128; o.Optimizer = OptimizerKind.Sgd; o.LearningRate = 0.05; o.Momentum = 0.9; o.WeightDecay = 5e-4;
        }
        else
        {
            o.BatchSize = 64; o.LearningRate = 2e-3;
        }
    }

    /// <summary>The search and fine-tuning settings: the FP32 run's, at a fifth of its learning rate, checkpointed under <paramref name="directory"/> where given.</summary>
    internal static TrainingOptions ForBenchmarkStage(this TrainingOptions fp32, string? directory) => new()
    {
        BatchSize = fp32.BatchSize, Optimizer = fp32.Optimizer, LearningRate = fp32.LearningRate / 5, Momentum = fp32.Momentum,
        WeightDecay = fp32.WeightDecay, Seed = fp32.Seed, CheckpointDirectory = directory,
    };

    /// <summary>The table's rows, read by a rerun and checked against its FP32 model.</summary>
    private static string JsonPath(string outDir, string stem) => Path.Combine(outDir, stem + ".json");

    private static List<AutoResult> Read(string outDir, string stem)
    {
        string path = JsonPath(outDir, stem);
        return File.Exists(path) ? JsonSerializer.Deserialize<List<AutoResult>>(File.ReadAllText(path)) ?? new() : new();
    }

    /// <summary>
    /// Every row is a delta from the FP32 model, so rows measured on two FP32 models must not share a table: a checkout
    /// that retrains FP32 (its checkpoints are not in git) and lands on another model must start a new table.
    /// </summary>
    private static void RefuseAnotherFp32(IReadOnlyList<AutoResult> results, string fp32Row, double fp32Accuracy, string path)
    {
        var existing = results.FirstOrDefault(r => r.Configuration == fp32Row);
        if (existing is null || !results.Any(r => r != existing && Fp32RowOf(r) == fp32Row) || existing.TestAccuracy == fp32Accuracy) return;
        throw new InvalidOperationException(
            $"This FP32 model scores {fp32Accuracy:P2}, but the table in {path} was measured on one that scored {existing.TestAccuracy:P2}. " +
            "Move that file aside to start a new table, or restore the FP32 checkpoint it was measured on.");
    }

    private static void Upsert(List<AutoResult> results, AutoResult row)
    {
        int index = results.FindIndex(r => r.Configuration == row.Configuration);
        // A row resumed from its checkpoints (recalibrated and scored again) keeps the epoch times of the run that trained it.
        if (index >= 0 && row.Stages.All(s => s.Epochs == 0)) row = row with { Stages = results[index].Stages };
        if (index >= 0) results[index] = row;
        else if (row.Configuration == "FP32") results.Insert(0, row);
        else results.Add(row);
    }

    /// <summary>The FP32 row <paramref name="row"/> is a delta from: its network's.</summary>
    private static string Fp32RowOf(AutoResult row) => row.Configuration.StartsWith(ResNet20 + " ", StringComparison.Ordinal) ? ResNet20 + " FP32" : "FP32";

    private static double Accuracy(MLContext ml, ITransformer model, IDataView test) => ml.MulticlassClassification.Evaluate(model.Transform(test)).MicroAccuracy;

    private static void Write(string outDir, string stem, string task, int fp32Epochs, int epochs, int limit, IReadOnlyList<AutoResult> results)
    {
        Directory.CreateDirectory(outDir);
        File.WriteAllText(JsonPath(outDir, stem), JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
        string command = $"dotnet run --project src/Samples/Benchmarks -c Release -- auto-{task} --fp32-epochs {fp32Epochs} --epochs {epochs}" + (limit > 0 ? $" --limit {limit}" : "");
        var fp32 = results.Where(r => Fp32RowOf(r) == r.Configuration).ToDictionary(r => r.Configuration, r => r.TestAccuracy);
        bool resnet = results.Any(r => Fp32RowOf(r) != "FP32");
        var lines = new List<string>
        {
            $"# Automatic quantization, {(task == "image" ? "VggSmall" + (resnet ? $" and {ResNet20}" : "") + " on Fashion-MNIST" : "TextLstm on SpamAssassin")}", "",
            $"Command: `{command}`" + (resnet ? $"; the {ResNet20} rows: `{command} --model {ResNet20} --only \"auto W2A2 layer-wise,auto W3A3 layer-wise\"`" : "") +
                ". Every quantized row starts from its network's FP32 row's model; " +
                (task == "image" ? "first and last layers at 8 bits, counted in the averages." : "every layer quantized (the embedding, first, holds most weights).") +
                (results.Any(r => r.Configuration.EndsWith(')') && r.Configuration.Contains("(seed ")) ? " A row marked (seed N) ran with `--seed N`: its stages and calibration reseeded, from the same FP32 model." : "") +
                (results.Any(r => r.Configuration.Contains(" fine-tuning epochs")) ? " A row \"with N fine-tuning epochs\" ran with `--fine-tune-epochs N` in place of the recipe's fine-tuning." : "") +
                (results.Any(r => r.Configuration.Contains(" curvature weight ")) ? $" A row \"with curvature weight W\" ran with `--curvature-weight W` in place of the default {DefaultCurvatureWeight} (`SchemeSearchOptions.CurvatureWeight`; 0 searches without the curvature gap, the default before 2026-12-06)." : "") +
                (results.Any(r => r.Configuration.Contains(" entropy weight ")) ? $" A row \"with entropy weight W\" ran with `--entropy-weight W` in place of the default {DefaultEntropyWeight} (`SchemeSearchOptions.EntropyWeight`, the factor on the entropy of each vertex's scheme probabilities)." : "") +
                (results.Any(r => r.Configuration.Contains(WeightsOnlyGap)) ? $" A row \"{WeightsOnlyGap}\" ran the gap as first committed (a41a6a7): on the weight vertices only, at its full factor from the first batch." : ""), "",
            "| configuration | test accuracy | Δ vs FP32 (points) | avg weight bits | avg activation bits | epochs after FP32 | stages run here (epochs × s/epoch) | QSS / FP32 epoch |",
            "|---|---:|---:|---:|---:|---:|---|---:|",
        };
        lines.AddRange(results.Select(r => $"| {r.Configuration} | {r.TestAccuracy:P2} | {(r.TestAccuracy - fp32[Fp32RowOf(r)]) * 100:+0.00;-0.00;0.00} | {r.AverageWeightBits?.ToString("F3") ?? "32"} | {r.AverageActivationBits?.ToString("F3") ?? "32"} | {r.Epochs} | " +
            string.Join(", ", r.Stages.Where(s => s.Epochs > 0).Select(s => $"{s.Stage} {s.Epochs}×{s.SecondsPerEpoch:F0}")) + $" | {r.SearchCostRatio?.ToString("F2") ?? ""} |"));
        File.WriteAllText(Path.Combine(outDir, stem + ".md"), string.Join("\n", lines) + "\n");
    }
}
