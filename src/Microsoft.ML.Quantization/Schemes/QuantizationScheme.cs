namespace Microsoft.ML.Quantization.Schemes;

/// <summary>
/// The quantizer schemes of AutoQNN §3.1. Each maps a tensor to a small set of levels; see the
/// scheme's own file under <c>Schemes/</c> for its math.
/// </summary>
public enum QuantizationScheme
{
    /// <summary>1 bit: sign(x)·mean|x| (XNOR-Net).</summary>
    Binary,
    /// <summary>2 bits, three levels {-α, 0, α} (Ternary Weight Networks).</summary>
    Ternary,
    /// <summary>2 bits, four levels {-2, -1, 0, 1}·α with α from the variance.</summary>
    Quaternary,
    /// <summary>2–8 bits fixed point: the exponent from the maximum, keeping the top bits.</summary>
    FixedQ,
    /// <summary>2–8 bits: a sum of residual binarisations ±α_1 ± α_2 ….</summary>
    ResQ,
    /// <summary>2–8 bits: uniform between the minimum and the maximum.</summary>
    ZoomQ,
    /// <summary>1–8 bits: uniform inside a clip at c_b·σ that is MSE-optimal for a normal distribution; one-sided from 0 where the values have no negatives.</summary>
    ClipQ,
    /// <summary>2–4 bits: 0 and ±2^-k levels times a scale fitted to the data.</summary>
    PotQ,
}

/// <summary>Whether a quantizer fits one set of parameters to the whole tensor or one per output channel.</summary>
public enum QuantizationGranularity
{
    /// <summary>One scale and level table for the whole tensor.</summary>
    PerTensor,
    /// <summary>One scale and level table per slice along dimension 0 (the output channel of a weight).</summary>
    PerOutputChannel,
}
