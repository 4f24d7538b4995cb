using System.Text.RegularExpressions;

namespace Microsoft.ML.Quantization.Tests.Infrastructure;

/// <summary>What the README shows a user, read from the README itself so that tests and README cannot drift apart.</summary>
internal static partial class Readme
{
    public static string Text => File.ReadAllText(Path.Combine(RepoPaths.Root, "README.md"));

    /// <summary>The code of the fenced block right after the line <c>&lt;!-- sample: NAME ... --&gt;</c>.</summary>
    public static string Sample(string name)
    {
        var match = new Regex($@"<!-- sample: {Regex.Escape(name)}\b[^\n]*-->\s*\n```\w*\n(?<code>.*?)\n```", RegexOptions.Singleline).Match(Text);
        if (!match.Success) throw new InvalidDataException($"README.md has no code block marked '<!-- sample: {name} -->'.");
        return match.Groups["code"].Value;
    }
}
