using Microsoft.ML.Quantization.MLNet;
using Microsoft.ML.Runtime;

namespace Microsoft.ML.Quantization;

/// <summary>Registration of MLQuant's model loaders with an ML.NET <see cref="ComponentCatalog"/>.</summary>
public static class QuantizationComponentCatalog
{
    /// <summary>
    /// Lets <c>mlContext.Model.Load</c> read models that hold MLQuant transformers. Call it once per
    /// <see cref="MLContext"/> before loading, in the process that scores:
    /// <code>
    ///   var mlContext = new MLContext();
    ///   mlContext.ComponentCatalog.RegisterQuantization();
    ///   var model = mlContext.Model.Load("model.zip", out var schema);
    /// </code>
    /// A context that fitted an MLQuant estimator is registered already. Calling it again does nothing.
    /// </summary>
    /// <exception cref="NotSupportedException">The running Microsoft.ML is not the version MLQuant is pinned to.</exception>
    public static void RegisterQuantization(this ComponentCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ModelLoader.Register(catalog);
    }
}
