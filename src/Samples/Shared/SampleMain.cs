using System.Reflection;

namespace Microsoft.ML.Quantization.Samples;

/// <summary>A command line the sample cannot use; the sample prints its message and exits with 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// How every sample ends: 0 on success, 2 for a usage error, 1 for a failure, each failure as one line on stderr
/// that names the problem and the fix. The stack trace only with <c>--verbose</c>.
/// </summary>
internal static class SampleMain
{
    /// <summary>Runs <paramref name="body"/> on the arguments without <c>--verbose</c>; returns the exit code.</summary>
    public static int Run(string[] args, Func<string[], int> body)
    {
        bool verbose = args.Contains("--verbose");
        string name = Assembly.GetEntryAssembly()?.GetName().Name ?? "sample";
        try
        {
            return body(args.Where(a => a != "--verbose").ToArray());
        }
        // WebApplicationFactory stops a service's entry point by throwing this from Build(); it must pass through.
        catch (Exception e) when (e.GetType().FullName != "Microsoft.Extensions.Hosting.HostAbortedException")
        {
            var (code, line) = Describe(e);
            Console.Error.WriteLine($"{name}: {line}");
            if (verbose) Console.Error.WriteLine(e);
            else Console.Error.WriteLine($"{name}: (run with --verbose for the stack trace)");
            return code;
        }
    }

    /// <summary>The value after <paramref name="name"/> in <paramref name="args"/>, or null when it is not given.</summary>
    public static string? Option(string[] args, string name) =>
        Array.IndexOf(args, name) is int i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

    /// <summary>The whole number of at least 1 after <paramref name="name"/>, or null when it is not given; a <see cref="UsageException"/> otherwise.</summary>
    public static int? PositiveOption(string[] args, string name) => Option(args, name) switch
    {
        null => null,
        string text when int.TryParse(text, out int value) && value >= 1 => value,
        string text => throw new UsageException($"{name} takes a whole number of at least 1, not '{text}'."),
    };

    private static (int Code, string Line) Describe(Exception error)
    {
        // ML.NET, Kestrel and reflection wrap what went wrong: the chain's innermost exception usually names it.
        var chain = new List<Exception>();
        for (var e = error; e is not null; e = e.InnerException) chain.Add(e);
        if (chain.OfType<UsageException>().FirstOrDefault() is { } usage) return (2, usage.Message);
        if (chain.FirstOrDefault(e => e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase)) is { } bind)
            return (1, $"{bind.Message} Another process holds the port: pass a free one, --urls http://127.0.0.1:PORT.");
        if (chain.OfType<FileNotFoundException>().FirstOrDefault(e => e.FileName?.Contains("Version=", StringComparison.Ordinal) == true) is { } missing)
        {
            string assembly = missing.FileName!.Split(',')[0];
            return (1, $"The model needs the assembly '{missing.FileName}', which this app cannot load: add its package (dotnet add package {assembly}), at a version that has it.");
        }
        if (chain.OfType<FileLoadException>().FirstOrDefault() is { } load) return (1, $"{load.Message} Reference the version the model was saved with.");
        return (1, chain[^1].Message);
    }
}
