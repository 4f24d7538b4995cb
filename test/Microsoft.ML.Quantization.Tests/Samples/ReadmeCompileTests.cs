using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.ML.Quantization.Tests.Infrastructure;
using Xunit;

namespace Microsoft.ML.Quantization.Tests.Samples;

/// <summary>
/// Every C# block of the README compiles against the library as built: a block marked <c>&lt;!-- sample: NAME --&gt;</c> as
/// the whole program it is (the package test also runs them), a block marked
/// <c>&lt;!-- compile: given TYPE name, …; using NAMESPACE, … --&gt;</c> as the body of a method taking those values. An
/// unmarked block fails, so no snippet escapes.
/// </summary>
public class ReadmeCompileTests
{
    private static readonly Regex Block = new(@"(?<marker><!--(?<kind> sample| compile):(?<spec>[^\n]*?)-->\s*\n)?```csharp\n(?<code>.*?)\n```", RegexOptions.Singleline);

    public static TheoryData<int> Blocks() => new(Enumerable.Range(0, Block.Matches(Readme.Text).Count));

    [Theory]
    [MemberData(nameof(Blocks))]
    public void EveryCSharpBlockCompiles(int index)
    {
        var match = Block.Matches(Readme.Text)[index];
        string code = match.Groups["code"].Value;
        string first = code.Split('\n')[0];
        Assert.True(match.Groups["marker"].Success, $"README C# block {index} ('{first}') has no <!-- sample: … --> or <!-- compile: … --> marker.");
        var (source, kind) = match.Groups["kind"].Value == " sample"
            ? (code, OutputKind.ConsoleApplication)
            : (Wrapped(code, match.Groups["spec"].Value), OutputKind.DynamicallyLinkedLibrary);
        var compilation = CSharpCompilation.Create($"ReadmeBlock{index}", new[] { CSharpSyntaxTree.ParseText(source), CSharpSyntaxTree.ParseText(ImplicitUsings) }, CompilationReferences.Value,
            new CSharpCompilationOptions(kind, nullableContextOptions: NullableContextOptions.Enable));
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, $"README C# block {index} ('{first}') does not compile:\n{string.Join("\n", errors)}\n---\n{source}");
    }

    /// <summary>What a new console project (<c>dotnet new console</c>, ImplicitUsings on) puts in scope.</summary>
    private const string ImplicitUsings = "global using System; global using System.IO; global using System.Collections.Generic; global using System.Linq; "
        + "global using System.Net.Http; global using System.Threading; global using System.Threading.Tasks;";

    /// <summary>The snippet as a method body: "given" declares its parameters, "using" adds namespaces to Microsoft.ML and Microsoft.ML.Quantization.</summary>
    private static string Wrapped(string code, string spec)
    {
        // A parenthesis in the marker is a note for the reader.
        var parts = Regex.Replace(spec, @"\(.*?\)", "").Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        string given = parts.FirstOrDefault(p => p.StartsWith("given ", StringComparison.Ordinal))?["given ".Length..] ?? "";
        if (given == "nothing") given = "";
        var usings = new[] { "Microsoft.ML", "Microsoft.ML.Quantization" }
            .Concat(parts.Where(p => p.StartsWith("using ", StringComparison.Ordinal)).SelectMany(p => p["using ".Length..].Split(',', StringSplitOptions.TrimEntries)));
        var lines = code.Split('\n');
        var ownUsings = lines.Where(l => l.StartsWith("using ", StringComparison.Ordinal)).Select(l => l.Split("//")[0].Trim());
        var body = lines.Where(l => !l.StartsWith("using ", StringComparison.Ordinal));
        return string.Join("\n", usings.Select(u => $"using {u};").Concat(ownUsings))
            + $"\npublic static class ReadmeSnippet\n{{\n    public static void Run({given})\n    {{\n{string.Join("\n", body)}\n    }}\n}}\n";
    }
}
