using System.Reflection;
using Microsoft.ML.Quantization.Functional;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Microsoft.ML.Quantization.Tests.Functional;

/// <summary>
/// Numbers reach libtorch only through <see cref="ScalarOperands"/>, which holds each Scalar until the call returns:
/// TorchSharp 0.107 lets an implicitly converted Scalar be finalized during the native call that reads it (two
/// test-host aborts in four CI runs, "Unknown scalar type" in div and a crash in Scalar::toDouble).
/// </summary>
public class ScalarOperandsTests
{
    [Fact]
    public void NoCodeButScalarOperandsHandsANumberToTorch()
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var assembly in new[] { typeof(ScalarOperands).Assembly, typeof(ScalarOperandsTests).Assembly })
        {
            foreach (var type in assembly.GetTypes().Where(t => t != typeof(ScalarOperands) && t != typeof(UnsafeConversions)))
                found.UnionWith(Conversions(type));
        }
        // ScalarOperands converts numbers itself, but must not call what converts one inside TorchSharp either.
        found.UnionWith(MethodBodies.Methods(typeof(ScalarOperands)).SelectMany(m => MethodBodies.Tokens(m).OfType<MethodBase>().Where(c => ConvertsInside(c))
            .Select(c => $"ScalarOperands.{m.Name} calls {c.DeclaringType!.Name}.{c.Name}")));
        Assert.True(found.Count == 0, "Numbers converted to Scalars outside ScalarOperands:\n" + string.Join("\n", found));
    }

    [Fact]
    public void TheCheckSeesEachKindOfConversion()
    {
        // Each method holds one conversion of a different kind; a check that misses one proves nothing for it.
        var found = MethodBodies.Methods(typeof(UnsafeConversions)).Where(m => m.Name != ".ctor").ToDictionary(m => m.Name, m => Conversions(m).Count());
        Assert.All(found, pair => Assert.True(pair.Value == 1, $"{pair.Key}: {pair.Value} conversions seen"));
        Assert.Equal(5, found.Count);
    }

    private static class UnsafeConversions
    {
        public static Tensor Implicit(Tensor x) => x.clamp_min(0);

        public static Tensor Operator(Tensor x) => x / 2.0;

        public static Tensor Explicit(Tensor x) => x.mul(2.0.ToScalar());

        public static double ThroughAScalar(Tensor x) => x.ToDouble();

        public static Tensor InsideTorchSharp(Tensor x) => x + x;
    }

    /// <summary>The calls in a type's own methods that turn a number into a Scalar inside TorchSharp's reach (nested types, closures among them, are types of their own).</summary>
    private static IEnumerable<string> Conversions(Type type) =>
        MethodBodies.Methods(type).SelectMany(m => Conversions(m).Select(c => $"{type.FullName}.{m.Name} calls {c}"));

    private static IEnumerable<string> Conversions(MethodBase method) =>
        MethodBodies.Tokens(method).OfType<MethodBase>().Where(ConvertsANumber).Select(c => $"{c.DeclaringType!.Name}.{c.Name}({string.Join(", ", c.GetParameters().Select(p => p.ParameterType.Name))})");

    /// <summary>
    /// A TorchSharp method that makes a Scalar its caller does not hold: an implicit or explicit conversion to Scalar,
    /// a tensor's value read through one (ToDouble and its kin; item&lt;T&gt; reads the data), or a tensor operator with a
    /// number operand, which converts inside.
    /// </summary>
    private static bool ConvertsANumber(MethodBase callee)
    {
        if (callee.DeclaringType?.Assembly != typeof(Scalar).Assembly) return false;
        if (callee.Name == "ToScalar" || callee is MethodInfo { Name: "op_Implicit" or "op_Explicit", ReturnType: var r } && r == typeof(Scalar)) return true;
        var parameters = callee.GetParameters();
        if (callee.DeclaringType.Name == "TensorExtensionMethods" && callee.Name.StartsWith("To", StringComparison.Ordinal)
            && parameters.Length == 1 && parameters[0].ParameterType == typeof(Tensor)) return true;
        return callee.Name.StartsWith("op_", StringComparison.Ordinal) && callee.Name is not ("op_Implicit" or "op_Explicit")
            && parameters.Any(p => (Nullable.GetUnderlyingType(p.ParameterType) ?? p.ParameterType).IsPrimitive)
            || ConvertsInside(callee);
    }

    /// <summary>
    /// A TorchSharp method that converts a number to a Scalar in its own body, or in one it calls (three calls deep), and lets
    /// it go: Tensor.add(Tensor) and the + operator pass an alpha of 1 that way, and a scoring run aborted in
    /// Scalar::toDouble under Tensor.add(Scalar) on 2026-12-07. PReLU's constructor is left out: it converts its initial slope
    /// once, when a model is built, and TorchSharp offers no other way to make the module.
    /// </summary>
    private static bool ConvertsInside(MethodBase callee) => !(callee.DeclaringType?.Name == "nn" && callee.Name == "PReLU") && ConvertsInside(callee, 3);

    private static readonly Dictionary<(MethodBase, int), bool> Inside = new();

    private static bool ConvertsInside(MethodBase method, int depth)
    {
        if (depth == 0 || method.DeclaringType?.Assembly != typeof(Scalar).Assembly || method.DeclaringType == typeof(Scalar)) return false;
        lock (Inside)
            if (Inside.TryGetValue((method, depth), out bool known)) return known;
        bool converts = MethodBodies.Tokens(method).OfType<MethodBase>().Any(c =>
            c.DeclaringType?.Assembly == typeof(Scalar).Assembly
            && (c.Name == "ToScalar" || c is MethodInfo { Name: "op_Implicit" or "op_Explicit" } conversion && conversion.ReturnType == typeof(Scalar) || ConvertsInside(c, depth - 1)));
        lock (Inside) Inside[(method, depth)] = converts;
        return converts;
    }

    [Fact]
    public void ArithmeticMatchesTorchsOwnOperators()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new[] { -2.5f, -0.5f, 0f, 1.25f, 3f });
        Assert.Equal(new[] { -2f, 0f, 0.5f, 1.75f, 3.5f }, x.Plus(0.5).data<float>().ToArray());
        Assert.Equal(new[] { -3f, -1f, -0.5f, 0.75f, 2.5f }, x.Minus(0.5).data<float>().ToArray());
        Assert.Equal(new[] { -5f, -1f, 0f, 2.5f, 6f }, x.Times(2.0).data<float>().ToArray());
        Assert.Equal(new[] { -1.25f, -0.25f, 0f, 0.625f, 1.5f }, x.Over(2.0).data<float>().ToArray());
        Assert.Equal(new[] { -0.5f, -0.5f, 0f, 1.25f, 1.5f }, x.Clamp(-0.5, 1.5).data<float>().ToArray());
        Assert.Equal(new[] { 0f, 0f, 0f, 1.25f, 3f }, x.ClampMin(0).data<float>().ToArray());
        Assert.Equal(new[] { -2.5f, -0.5f, 0f, 0f, 0f }, x.ClampMax(0).data<float>().ToArray());
        Assert.Equal(new[] { false, false, true, true, true }, x.AtLeast(0).data<bool>().ToArray());
        Assert.Equal(new[] { false, false, false, true, true }, x.Above(0).data<bool>().ToArray());
        Assert.Equal(new[] { true, true, false, false, false }, x.Below(0).data<bool>().ToArray());
        Assert.Equal(ScalarType.Float32, x.Times(2.0).dtype);
        var y = x.clone();
        y.PlusInPlace(1).ClampInPlace(0, 2);
        Assert.Equal(new[] { 0f, 0.5f, 1f, 2f, 2f }, y.data<float>().ToArray());
        Assert.Equal(new[] { 7f, 7f, 7f, 7f, 7f }, y.FillInPlace(7).data<float>().ToArray());
    }

    [Fact]
    public void IntegerTensorsStayIntegerAndCompareExactlyPastFloatPrecision()
    {
        // 2^24 + 1 is not a float32: a comparison promoted to the default float type would call it equal to 2^24.
        using var scope = NewDisposeScope();
        const long big = (1L << 24) + 1;
        var positions = tensor(new[] { big - 1, big, big + 1 });
        Assert.Equal(new[] { false, true, true }, positions.AtLeast(big).data<bool>().ToArray());
        Assert.Equal(new[] { true, false, false }, positions.Below(big).data<bool>().ToArray());
        Assert.Equal(ScalarType.Int64, positions.Minus(big).dtype);
        Assert.Equal(new[] { -1L, 0L, 1L }, positions.Minus(big).data<long>().ToArray());
        Assert.Equal(ScalarType.Int64, positions.Times(2L).dtype);
    }

    [Fact]
    public void FactoriesMakeTheRequestedTypeAndValues()
    {
        using var scope = NewDisposeScope();
        var range = ScalarOperands.Range(4, ScalarType.Int64);
        Assert.Equal(new[] { 0L, 1L, 2L, 3L }, range.data<long>().ToArray());
        Assert.Equal(new[] { 1.0, 4.0, 7.0 }, ScalarOperands.Range(1, 10, 3, ScalarType.Float64).data<double>().ToArray());
        var full = ScalarOperands.Full(3, -1.5, ScalarType.Float64);
        Assert.Equal(new[] { -1.5, -1.5, -1.5 }, full.data<double>().ToArray());
        var like = ScalarOperands.FullLike(tensor(new[] { 1f, 2f }), 0.25);
        Assert.Equal(ScalarType.Float32, like.dtype);
        Assert.Equal(new[] { 0.25f, 0.25f }, like.data<float>().ToArray());
    }
}
