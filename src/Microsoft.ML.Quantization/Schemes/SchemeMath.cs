using Microsoft.ML.Quantization.Functional;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Schemes;

/// <summary>
/// A quantizer scheme: how to fit a <see cref="GridTensors"/> to a tensor. Everything else (encode,
/// decode, the straight-through gradient, export) is shared, so a scheme file holds only its math.
/// </summary>
internal abstract class SchemeMath
{
    /// <summary>Which scheme this is.</summary>
    public abstract QuantizationScheme Kind { get; }

    /// <summary>Smallest supported bitwidth.</summary>
    public abstract int MinBits { get; }

    /// <summary>Largest supported bitwidth.</summary>
    public abstract int MaxBits { get; }

    /// <summary>
    /// Fits the grid to x, given as [G,N] float64 and detached (statistics in double precision make the
    /// fitted parameters independent of summation order).
    /// </summary>
    protected abstract GridTensors Fit(Tensor x, int bits);

    /// <summary>Fits the grid to x per tensor or per output channel (dimension 0).</summary>
    public GridTensors Fit(Tensor x, int bits, QuantizationGranularity granularity)
    {
        CheckBits(bits);
        using var scope = NewDisposeScope();
        return Fit(Groups(x, granularity).detach().to(float64), bits);
    }

    /// <summary>
    /// Quantizes x with a freshly fitted grid and a straight-through gradient; <paramref name="learnedBits"/> adds
    /// the QPL bitwidth gradient, <paramref name="training"/> allows the fast rounding (see <see cref="GridTensors.Quantize"/>).
    /// </summary>
    public Tensor Quantize(Tensor x, int bits, QuantizationGranularity granularity = QuantizationGranularity.PerTensor, Tensor? learnedBits = null, bool training = false)
    {
        using var scope = NewDisposeScope();
        using var grid = Fit(x, bits, granularity);
        return grid.Quantize(Groups(x, granularity), learnedBits, fast: training).reshape(x.shape).MoveToOuterDisposeScope();
    }

    /// <summary>Values an activation grid is fitted to in training: a random sample keeps the fit's cost flat in the batch size.</summary>
    public const int ActivationSampleSize = 1 << 16;

    /// <summary>
    /// Training forward of an activation (per tensor): the grid is fitted to at most
    /// <see cref="ActivationSampleSize"/> values drawn at random (all of them for a smaller tensor) and
    /// quantizes every value. Calibration fits one grid to a sample of the same size drawn from every value seen.
    /// </summary>
    public Tensor QuantizeActivation(Tensor x, int bits, Tensor? learnedBits = null)
    {
        using var scope = NewDisposeScope();
        var flat = x.reshape(1, -1);
        using var grid = FitActivation(flat, bits);
        return grid.Quantize(flat, learnedBits, fast: true).reshape(x.shape).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The quantized values of x and its clip mask (null where the scheme does not clip), without gradient, with the
    /// training path's fast rounding (see <see cref="GridTensors.Parts"/>): for
    /// a weight fitted as <see cref="Quantize"/> fits; for an activation in training (<paramref name="activationSample"/>
    /// from <see cref="ActivationSample"/>, shared by the branches of a search) fitted to that sample, per tensor.
    /// </summary>
    public (Tensor Values, Tensor? Mask) Parts(Tensor x, int bits, QuantizationGranularity granularity, Tensor? activationSample = null)
    {
        using var scope = NewDisposeScope();
        var groups = activationSample is null ? Groups(x, granularity) : x.reshape(1, -1);
        using var grid = activationSample is null ? Fit(x, bits, granularity) : Fit(activationSample, bits, QuantizationGranularity.PerTensor);
        var (q, mask) = grid.Parts(groups, fast: true);
        return (q.reshape(x.shape).MoveToOuterDisposeScope(), mask?.reshape(x.shape).MoveToOuterDisposeScope());
    }

    /// <summary>At most <see cref="ActivationSampleSize"/> values of x drawn at random ([1,n]), all of them for a smaller tensor.</summary>
    /// <param name="x">The values.</param>
    /// <param name="generator">The random source; null for the training epoch's (<see cref="TrainingRandom"/>).</param>
    public static Tensor ActivationSample(Tensor x, TorchSharp.torch.Generator? generator = null)
    {
        var flat = x.reshape(1, -1);
        var picks = SamplePositions(flat.shape[1], flat.device, generator);
        return picks is null ? flat.alias() : flat.index_select(1, picks);
    }

    /// <summary>The positions <see cref="ActivationSample"/> keeps out of <paramref name="count"/> values; null where it keeps them all.</summary>
    internal static Tensor? SamplePositions(long count, Device device, TorchSharp.torch.Generator? generator) => count <= ActivationSampleSize ? null
        : randint(0, count, new long[] { ActivationSampleSize }, dtype: int64, device: device, generator: generator ?? TrainingRandom.Current);

    /// <summary>The grid of a flattened activation [1,N], fitted to a sample of at most <see cref="ActivationSampleSize"/> values.</summary>
    private GridTensors FitActivation(Tensor flat, int bits)
    {
        using var sample = ActivationSample(flat);
        return Fit(sample, bits, QuantizationGranularity.PerTensor);
    }

    /// <summary>Export: the integer codes of x and the grid that decodes them.</summary>
    public QuantizedTensor Export(Tensor x, int bits, QuantizationGranularity granularity = QuantizationGranularity.PerTensor)
    {
        using var scope = NewDisposeScope();
        using var grid = Fit(x, bits, granularity);
        var codes = grid.Encode(Groups(x, granularity)).to(uint8).cpu().contiguous();
        int[] shape = x.shape.Select(d => checked((int)d)).ToArray();
        return new QuantizedTensor(Kind, shape, grid.ToGrid(), codes.data<byte>().ToArray());
    }

    /// <summary>Throws unless the scheme supports <paramref name="bits"/>.</summary>
    public void CheckBits(int bits)
    {
        if (bits < MinBits || bits > MaxBits)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits,
                MinBits == MaxBits ? $"{Kind} quantizes to {MinBits} bit(s) only." : $"{Kind} supports {MinBits} to {MaxBits} bits.");
        }
    }

    /// <summary>The scheme object for a <see cref="QuantizationScheme"/>.</summary>
    public static SchemeMath For(QuantizationScheme kind) => kind switch
    {
        QuantizationScheme.Binary => BinaryScheme.Instance,
        QuantizationScheme.Ternary => TernaryScheme.Instance,
        QuantizationScheme.Quaternary => QuaternaryScheme.Instance,
        QuantizationScheme.FixedQ => FixedQScheme.Instance,
        QuantizationScheme.ResQ => ResQScheme.Instance,
        QuantizationScheme.ZoomQ => ZoomQScheme.Instance,
        QuantizationScheme.ClipQ => ClipQScheme.Instance,
        QuantizationScheme.PotQ => PotQScheme.Instance,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown quantization scheme."),
    };

    /// <summary>Views x as [G,N]: G = 1 per tensor, G = x.shape[0] per output channel.</summary>
    private static Tensor Groups(Tensor x, QuantizationGranularity granularity)
    {
        if (granularity == QuantizationGranularity.PerTensor || x.dim() == 0) return x.reshape(1, -1);
        return x.reshape(x.shape[0], -1);
    }

    /// <summary>Root mean square per group, [G]: the spread about zero that a zero-centred grid sees.</summary>
    protected static Tensor RootMeanSquare(Tensor x) => x.Squared().mean([1]).sqrt();

    /// <summary>A [G,n] tensor holding the same row of constants for every group.</summary>
    protected static Tensor Rows(Tensor x, params double[] values) =>
        tensor(values, float64, x.device).unsqueeze(0).expand(x.shape[0], values.Length);
}
