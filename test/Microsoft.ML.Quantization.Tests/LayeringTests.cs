using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests;

/// <summary>
/// The library's layers reference each other only downward, and its folders and namespaces agree
/// (docs/concepts.md). Every type's signatures and method bodies (IL) are read, so a new upward reference,
/// or torch or ML.NET reaching into a layer that must not use them, fails here.
/// </summary>
public class LayeringTests
{
    /// <summary>The layers from the bottom up: each may reference only those before it.</summary>
    private static readonly string[] Layers =
        { "Kernels", "Functional", "Schemes", "Activations", "Graph", "Serialization", "Runtime", "Training", "Search", "MLNet" };

    /// <summary>Layers that never touch a torch type: the graph, the saved form and everything scoring runs.</summary>
    private static readonly HashSet<string> TorchFree = new() { "Kernels", "Graph", "Serialization", "Runtime" };

    private const string Root = "Microsoft.ML.Quantization";

    private const BindingFlags Declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static readonly Assembly Library = typeof(ImageClassifierTransformer).Assembly;

    /// <summary>The layer of a library type: the first namespace segment below the root; the root namespace is the public ML.NET surface (MLNet).</summary>
    private static string LayerOf(Type type)
    {
        type = Outermost(type);
        string ns = type.Namespace ?? "";
        if (ns == Root) return "MLNet";
        return ns.StartsWith(Root + ".", StringComparison.Ordinal) ? ns[(Root.Length + 1)..].Split('.')[0] : "(global)";
    }

    private static Type Outermost(Type type)
    {
        while (type.DeclaringType is not null) type = type.DeclaringType;
        return type;
    }

    [Fact]
    public void EveryTypeIsInAKnownLayer()
    {
        // Compiler-made holders of constant data (<PrivateImplementationDetails>) belong to no layer.
        var unknown = Library.GetTypes().Where(t => !Outermost(t).Name.StartsWith('<') && Array.IndexOf(Layers, LayerOf(t)) < 0).Select(t => t.FullName).ToList();
        Assert.True(unknown.Count == 0, "Types outside the layers: " + string.Join(", ", unknown));
    }

    [Fact]
    public void LayersReferenceOnlyLayersBelowThem()
    {
        var violations = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in Library.GetTypes())
        {
            string layer = LayerOf(type);
            int rank = Array.IndexOf(Layers, layer);
            if (rank < 0) continue;
            foreach (var used in References(type))
            {
                string? problem = used.Assembly == Library
                    ? Array.IndexOf(Layers, LayerOf(used)) > rank ? $"{layer} → {LayerOf(used)}" : null
                    : IsTorch(used) && TorchFree.Contains(layer) ? $"{layer} → TorchSharp"
                    : IsMLNet(used) && layer != "MLNet" ? $"{layer} → Microsoft.ML" : null;
                if (problem is not null) violations.Add($"{problem}: {type.FullName} uses {used.FullName}");
            }
        }
        Assert.True(violations.Count == 0, "Upward references:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void TorchFreeLayersCallNoCodeThatUsesTorch()
    {
        // Scoring and loading must run where libtorch is absent: follow every call out of the torch-free layers
        // through the library and flag a method whose own body or signature names a torch type. (A virtual call is
        // followed to the method it names; overrides are checked where their own layer is.)
        var violations = new SortedSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<MethodBase>();
        var pending = new Stack<(MethodBase Method, string From)>();
        foreach (var type in Library.GetTypes().Where(t => TorchFree.Contains(LayerOf(t))))
        {
            foreach (var m in MethodBodies.Methods(type)) pending.Push((m, m.DeclaringType!.FullName + "." + m.Name));
        }
        while (pending.Count > 0)
        {
            var (method, from) = pending.Pop();
            if (!seen.Add(method)) continue;
            foreach (var member in MethodBodies.Tokens(method))
            {
                if (Named(member).SelectMany(Parts).Any(IsTorch)) violations.Add($"{from} reaches torch in {method.DeclaringType!.FullName}.{method.Name}");
                if (member is MethodBase callee && callee.DeclaringType?.Assembly == Library) pending.Push((callee, from));
            }
        }
        Assert.True(violations.Count == 0, "Torch-free code reaching torch:\n" + string.Join("\n", violations));
    }

    [Fact]
    public void NamespacesFollowFolders()
    {
        string source = RepoPaths.Source("Microsoft.ML.Quantization");
        var mismatches = new List<string>();
        foreach (string file in Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(source, file).Replace('\\', '/');
            if (relative.StartsWith("obj/", StringComparison.Ordinal) || relative.StartsWith("bin/", StringComparison.Ordinal)) continue;
            string text = File.ReadAllText(file);
            var declared = Regex.Match(text, @"^namespace ([\w.]+);", RegexOptions.Multiline);
            string folder = Path.GetDirectoryName(relative)!.Replace('/', '.');
            string expected = folder.Length == 0 ? Root : Root + "." + folder;
            // The public ML.NET surface (catalogs, options, estimators, transformers) is in the root namespace: one using for a user.
            bool publicSurface = relative.StartsWith("MLNet/", StringComparison.Ordinal) && Regex.IsMatch(text, @"^public ", RegexOptions.Multiline);
            string wanted = publicSurface ? Root : expected;
            if (!declared.Success || declared.Groups[1].Value != wanted) mismatches.Add($"{relative}: namespace {(declared.Success ? declared.Groups[1].Value : "(none)")}, expected {wanted}");
        }
        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
    }

    [Fact]
    public void TheCheckSeesReferencesInsideMethodBodies()
    {
        // A reference that appears only in IL (a call and a local) must be found, or the layering test proves nothing.
        var used = References(typeof(BodyOnlyReference)).ToHashSet();
        Assert.Contains(typeof(Regex), used);
        Assert.Contains(typeof(System.Text.StringBuilder), used);
    }

    private static class BodyOnlyReference
    {
        public static int Run()
        {
            var builder = new System.Text.StringBuilder("a");
            return Regex.Matches(builder.ToString(), "a").Count;
        }
    }

    private static bool IsTorch(Type type) => type.Assembly.GetName().Name is "TorchSharp";

    private static bool IsMLNet(Type type) => type.Assembly.GetName().Name is { } name && name.StartsWith("Microsoft.ML", StringComparison.Ordinal) && type.Assembly != Library;

    /// <summary>Every type <paramref name="type"/> names: base, interfaces, members' signatures, and what its method bodies touch.</summary>
    private static IEnumerable<Type> References(Type type)
    {
        var named = new List<Type?> { type.BaseType };
        named.AddRange(type.GetInterfaces());
        named.AddRange(type.GetFields(Declared).Select(f => f.FieldType));
        named.AddRange(type.GetProperties(Declared).Select(p => p.PropertyType));
        foreach (var method in MethodBodies.Methods(type))
        {
            named.AddRange(Signature(method));
            if (method.GetMethodBody() is not { } body) continue;
            named.AddRange(body.LocalVariables.Select(l => l.LocalType));
            named.AddRange(MethodBodies.Tokens(method).SelectMany(Named));
        }
        var found = named.SelectMany(Parts).ToHashSet();
        foreach (var nested in type.GetNestedTypes(Declared)) found.UnionWith(References(nested));
        return found;
    }

    /// <summary>A method's return and parameter types.</summary>
    private static IEnumerable<Type> Signature(MethodBase method) =>
        method.GetParameters().Select(p => p.ParameterType).Concat(method is MethodInfo info ? new[] { info.ReturnType } : Array.Empty<Type>());

    /// <summary>The types an IL operand names: the type itself, a method's declaring type and signature, a field's declaring and own type.</summary>
    private static IEnumerable<Type?> Named(MemberInfo member) => member switch
    {
        Type t => new[] { t },
        MethodBase m => Signature(m).Prepend(m.DeclaringType),
        FieldInfo f => new[] { f.DeclaringType, f.FieldType },
        _ => Array.Empty<Type>(),
    };

    /// <summary>The type definitions inside a type: element types of arrays and by-refs, generic definitions and their arguments.</summary>
    private static IEnumerable<Type> Parts(Type? type)
    {
        if (type is null || type.IsGenericParameter) return Array.Empty<Type>();
        if (type.HasElementType) return Parts(type.GetElementType());
        if (type.IsGenericType && !type.IsGenericTypeDefinition)
            return type.GetGenericArguments().SelectMany(Parts).Prepend(type.GetGenericTypeDefinition());
        return new[] { type };
    }
}
