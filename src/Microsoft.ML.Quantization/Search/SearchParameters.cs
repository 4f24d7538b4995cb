using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Microsoft.ML.Quantization.Search;

/// <summary>
/// The learnable parameters of a search stage by key (a vertex, or "weights"/"activations" when shared),
/// registered once as the graph module's "search" submodule. Quantizer modules reach them through
/// <see cref="this[string]"/> rather than holding them, so a shared parameter is trained and saved once.
/// </summary>
internal sealed class SearchParameters : Module
{
    private readonly Dictionary<string, Parameter> byKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Tensor> statistics = new(StringComparer.Ordinal);

    public SearchParameters() : base("search") { }

    /// <summary>The parameter of <paramref name="key"/>, created from <paramref name="initial"/> the first time.</summary>
    public Parameter GetOrAdd(string key, Func<Tensor> initial)
    {
        if (byKey.TryGetValue(key, out var existing)) return existing;
        var parameter = Parameter(initial());
        register_parameter(key.Replace('.', '_'), parameter);
        byKey[key] = parameter;
        return parameter;
    }

    /// <summary>
    /// A running statistic of the stage under <paramref name="key"/>, created from <paramref name="initial"/> the first time:
    /// not learned, but saved in the stage's checkpoints beside the parameters, so that a resumed search continues exactly.
    /// </summary>
    public Tensor Statistic(string key, Func<Tensor> initial)
    {
        if (statistics.TryGetValue(key, out var existing)) return existing;
        var statistic = initial();
        register_buffer("statistic_" + key.Replace('.', '_'), statistic);
        statistics[key] = statistic;
        return statistic;
    }

    /// <summary>The parameter of <paramref name="key"/>.</summary>
    public Parameter this[string key] => byKey[key];

    /// <summary>The keys, in creation order.</summary>
    public IEnumerable<string> Keys => byKey.Keys;
}
