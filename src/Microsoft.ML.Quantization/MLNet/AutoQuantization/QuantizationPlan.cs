using Microsoft.ML.Quantization.Graph;
using Microsoft.ML.Quantization.Schemes;
using Microsoft.ML.Quantization.Search;

namespace Microsoft.ML.Quantization.MLNet.AutoQuantization;

/// <summary>
/// The quantization stages a pipeline asks for, as the one set of <see cref="AutoQuantizationOptions"/> that
/// <see cref="AutoQuantizer"/> runs: a scheme stage (<see cref="SchemeStage"/> or <see cref="FixedStage"/>), then QPL, then
/// fine-tuning, in one learning-rate schedule. <c>QuantizeAutomatically</c> is the plan of all three.
/// </summary>
internal sealed class QuantizationPlan
{
    public const string SchemeStage = "SearchSchemes", PrecisionStage = "LearnPrecision", FixedStage = "QuantizeWith", FineTuneStage = "FineTune", AutomaticStage = "QuantizeAutomatically";

    private QuantizationPlan(IReadOnlyList<string> stages, AutoQuantizationOptions options, int targetBits)
    {
        Stages = stages;
        Options = options;
        TargetBits = targetBits;
    }

    /// <summary>The stages asked for, in order.</summary>
    public IReadOnlyList<string> Stages { get; }

    /// <summary>The options the stages amount to.</summary>
    public AutoQuantizationOptions Options { get; }

    /// <summary>The target bits QPL aims at (8, unused, without QPL).</summary>
    public int TargetBits { get; }

    /// <summary>Automatic quantization: the scheme search, QPL (or DQA) and fine-tuning of <paramref name="options"/>.</summary>
    public static QuantizationPlan Automatic(int targetBits, AutoQuantizationOptions? options)
    {
        options ??= new AutoQuantizationOptions();
        options.Validate(targetBits);
        return new QuantizationPlan(new[] { AutomaticStage }, options, targetBits);
    }

    /// <summary>No stage yet: nothing is quantized until one is added.</summary>
    public static QuantizationPlan Empty { get; } = new(Array.Empty<string>(),
        new AutoQuantizationOptions { SearchEpochs = 0, PrecisionEpochs = 0, FineTuneEpochs = 0 }, 8);

    /// <summary>QSS with <paramref name="search"/> for <paramref name="epochs"/> epochs; it must come first.</summary>
    public QuantizationPlan SearchSchemes(SchemeSearchOptions? search, int epochs)
    {
        search ??= new SchemeSearchOptions();
        search.Validate();
        Positive(SchemeStage, epochs);
        First(SchemeStage);
        return With(SchemeStage, o => { o.Search = search; o.SearchEpochs = epochs; });
    }

    /// <summary>Fixed schemes (QAT) with <paramref name="fineTuneEpochs"/> of training; it must come first.</summary>
    public QuantizationPlan QuantizeWith(QuantizerSpec weights, QuantizerSpec activations, int fineTuneEpochs)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(activations);
        weights.Validate();
        activations.Validate();
        if (fineTuneEpochs < 0) throw new ArgumentOutOfRangeException(nameof(fineTuneEpochs), fineTuneEpochs, $"{FixedStage}: epochs must be ≥ 0.");
        First(FixedStage);
        var fixedSchemes = new SchemeSearchOptions
        {
            WeightCandidates = new[] { weights.Scheme }, WeightSearchBits = weights.Bits, WeightGranularity = weights.Granularity,
            ActivationCandidates = new[] { activations.Scheme }, ActivationSearchBits = activations.Bits,
        };
        return With(FixedStage, o => { o.Search = fixedSchemes; o.FineTuneEpochs = fineTuneEpochs; });
    }

    /// <summary>QPL toward <paramref name="targetBits"/> for <paramref name="epochs"/> epochs; alone, it learns ClipQ's widths.</summary>
    public QuantizationPlan LearnPrecision(int targetBits, PrecisionLearningOptions? precision, int epochs)
    {
        precision ??= new PrecisionLearningOptions();
        precision.Validate();
        if (!(targetBits is >= 1 and <= 8)) throw new ArgumentOutOfRangeException(nameof(targetBits), targetBits, $"{PrecisionStage}: a target bitwidth must be between 1 and 8.");
        Positive(PrecisionStage, epochs);
        if (Stages.Any(s => s is FixedStage or PrecisionStage or FineTuneStage or AutomaticStage))
            throw new InvalidOperationException($"{PrecisionStage} cannot follow {string.Join(", then ", Stages)}: it learns bitwidths, so it comes before fine-tuning and after SearchSchemes only ({FixedStage} fixes them).");
        var plan = With(PrecisionStage, o => { o.Precision = precision; o.PrecisionEpochs = epochs; });
        if (!Stages.Contains(SchemeStage))
            plan.Options.Search = new SchemeSearchOptions { WeightCandidates = new[] { QuantizationScheme.ClipQ }, ActivationCandidates = new[] { QuantizationScheme.ClipQ } };
        return new QuantizationPlan(plan.Stages, plan.Options, targetBits);
    }

    /// <summary><paramref name="epochs"/> more epochs of the final fixed network; it follows a stage that quantizes.</summary>
    public QuantizationPlan FineTune(int epochs)
    {
        Positive(FineTuneStage, epochs);
        if (Stages.Count == 0) throw new InvalidOperationException($"{FineTuneStage} follows a stage that quantizes (SearchSchemes, LearnPrecision or QuantizeWith); on a quantized model use mlContext.Quantization().FineTune.");
        if (Stages.Contains(AutomaticStage)) throw new InvalidOperationException($"{FineTuneStage} cannot follow QuantizeAutomatically, which fine-tunes already (AutoQuantizationOptions.FineTuneEpochs).");
        return With(FineTuneStage, o => o.FineTuneEpochs += epochs);
    }

    private void First(string stage)
    {
        if (Stages.Count > 0) throw new InvalidOperationException($"{stage} cannot follow {string.Join(", then ", Stages)}: it chooses the schemes, so it comes first.");
    }

    private static void Positive(string stage, int epochs)
    {
        if (epochs < 1) throw new ArgumentOutOfRangeException(nameof(epochs), epochs, $"{stage}: epochs must be ≥ 1.");
    }

    private QuantizationPlan With(string stage, Action<AutoQuantizationOptions> change)
    {
        var options = new AutoQuantizationOptions
        {
            SearchEpochs = Options.SearchEpochs, PrecisionEpochs = Options.PrecisionEpochs, FineTuneEpochs = Options.FineTuneEpochs,
            Search = Options.Search, Precision = Options.Precision, Qag = Options.Qag, Training = Options.Training, LabelColumnName = Options.LabelColumnName,
        };
        change(options);
        return new QuantizationPlan(Stages.Append(stage).ToArray(), options, TargetBits);
    }
}
