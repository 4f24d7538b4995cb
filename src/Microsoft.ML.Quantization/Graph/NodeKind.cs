namespace Microsoft.ML.Quantization.Graph;

/// <summary>The operations a <see cref="NetworkGraph"/> node can perform.</summary>
public enum NodeKind
{
    /// <summary>2-D convolution over [C,H,W].</summary>
    Conv2d,
    /// <summary>Fully connected layer over a vector.</summary>
    Linear,
    /// <summary>Batch normalisation over channels (or features).</summary>
    BatchNorm,
    /// <summary>max(x, 0).</summary>
    ReLU,
    /// <summary>ReLU with a learnable negative slope.</summary>
    PReLU,
    /// <summary>Bilateral clipping parametric ReLU (see BCPReLU).</summary>
    BCPReLU,
    /// <summary>Max pooling.</summary>
    MaxPool,
    /// <summary>Average pooling.</summary>
    AvgPool,
    /// <summary>Average over all spatial positions: [C,H,W] to [C].</summary>
    GlobalAvgPool,
    /// <summary>Reshape to a vector.</summary>
    Flatten,
    /// <summary>Element-wise sum of two inputs of equal shape (residual connection).</summary>
    Add,
    /// <summary>Dropout (identity at scoring).</summary>
    Dropout,
    /// <summary>Token ids [T] to vectors [T,D].</summary>
    Embedding,
    /// <summary>LSTM over [T,D]; outputs the last hidden state [H].</summary>
    Lstm,
    /// <summary>Activation quantizer inserted by QAG.</summary>
    Quantize,
    /// <summary>1 / (1 + e^−x).</summary>
    Sigmoid,
    /// <summary>tanh(x).</summary>
    Tanh,
    /// <summary>Its inputs joined along the channels ([C,H,W]) or features ([F]); every other dimension must agree.</summary>
    Concat,
    /// <summary>(x − mean[c]) / std[c] per channel (or feature) with fixed values: the input normalisation a model was trained with, or any fixed per-channel affine of an imported graph.</summary>
    Normalize,
}
