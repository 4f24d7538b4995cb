using Microsoft.ML.Quantization.Schemes;

namespace Microsoft.ML.Quantization.Graph;

/// <summary>Which scheme quantizes a tensor, at how many bits, per tensor or per output channel.</summary>
/// <param name="Scheme">The quantizer scheme.</param>
/// <param name="Bits">Bits per value; must be in the scheme's range.</param>
/// <param name="Granularity">Per tensor or per output channel.</param>
public sealed record QuantizerSpec(QuantizationScheme Scheme, int Bits, QuantizationGranularity Granularity = QuantizationGranularity.PerTensor)
{
    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> if the scheme does not support the bits.</summary>
    public void Validate() => SchemeMath.For(Scheme).CheckBits(Bits);

    /// <inheritdoc />
    public override string ToString() => $"{Scheme}-{Bits}";
}
