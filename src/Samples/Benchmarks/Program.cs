using System.Text.Json;
using Microsoft.ML.Quantization.Schemes;

// Benchmarks and reports whose outputs are kept under docs/benchmarks/ (see the README).
//   dotnet run --project src/Samples/Benchmarks -c Release -- schemes [--bits 3] [--samples 65536] [--out docs/benchmarks]
//   dotnet run --project src/Samples/Benchmarks -c Release -- train-image [--epochs 12] [--limit N] [--data data/fashion-mnist]
//   dotnet run --project src/Samples/Benchmarks -c Release -- train-text [--epochs 10] [--tokens 128] [--data data/spam-assassin]
//   dotnet run --project src/Samples/Benchmarks -c Release -- scoring [--rounds 5] [--out docs/benchmarks] [--models VggSmall,ResNet20,TextLstm,ResNet18] [--isa avx2,sse,scalar|none]
//   dotnet run --project src/Samples/Benchmarks -c Release -- profile [--model VggSmall|ResNet20|TextLstm|ResNet18] [--threads 1] [--repeats 500] [--config W2A2]   (per-step times at batch 1)
//   dotnet run --project src/Samples/Benchmarks -c Release -- kernels [--out docs/benchmarks]   (the GEMM microbenchmark alone)
//   dotnet run --project src/Samples/Benchmarks -c Release -- search-cost [--model VggSmall|TextLstm] [--limit N] [--data data/fashion-mnist|data/spam-assassin]
//   dotnet run --project src/Samples/Benchmarks -c Release -- service-load --model MODEL.zip [--clients 8] [--seconds 20]
//   dotnet run --project src/Samples/Benchmarks -c Release -- auto-image|auto-text [--fp32-epochs 8] [--epochs 1] [--limit N] [--only "name,name"] [--seed 1] [--model VggSmall|ResNet20] [--fine-tune-epochs N] [--curvature-weight W] [--entropy-weight W]
return Microsoft.ML.Quantization.Samples.SampleMain.Run(args, Benchmark);

static int Benchmark(string[] args)
{
    string command = args.FirstOrDefault() ?? "schemes";
    string Option(string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    switch (command)
    {
        case "schemes":
            int bits = int.Parse(Option("--bits", "3"));
            int samples = int.Parse(Option("--samples", "65536"));
            string outDir = Option("--out", Path.Combine("docs", "benchmarks"));
            Directory.CreateDirectory(outDir);
            var cells = SchemeErrorSurvey.Run(bits, samples, seed: 2024);
            string markdown = $"# Quantization error by scheme and distribution ({bits} bits)\n\n" +
                $"Relative MSE (MSE / E[x²]) of per-tensor quantization on {samples:N0} samples; Binary is 1 bit, Ternary and Quaternary 2 bits.\n" +
                $"Command: `dotnet run --project src/Samples/Benchmarks -c Release -- schemes --bits {bits} --samples {samples}`\n\n" +
                SchemeErrorSurvey.ToMarkdown(cells);
            string stem = Path.Combine(outDir, $"scheme-mse-{bits}bit");
            File.WriteAllText(stem + ".md", markdown);
            File.WriteAllText(stem + ".json", JsonSerializer.Serialize(cells.Select(c => new
            {
                scheme = c.Scheme.ToString(), bits = c.Bits, distribution = c.Distribution.ToString(), relativeMse = c.RelativeMse,
            }), new JsonSerializerOptions { WriteIndented = true }));
            Console.Write(markdown);
            Console.WriteLine($"\nwritten: {stem}.md, {stem}.json");
            return 0;
        case "train-image":
            return Microsoft.ML.Quantization.Samples.Benchmarks.ImageTrainingBenchmark.Run(
                Option("--data", Path.Combine("data", "fashion-mnist")), Option("--out", Path.Combine("docs", "benchmarks")),
                int.Parse(Option("--epochs", "12")), int.Parse(Option("--limit", "0")));
        case "train-text":
            return Microsoft.ML.Quantization.Samples.Benchmarks.TextTrainingBenchmark.Run(
                Option("--data", Path.Combine("data", "spam-assassin")), Option("--out", Path.Combine("docs", "benchmarks")), int.Parse(Option("--epochs", "10")), int.Parse(Option("--tokens", "128")));
        case "scoring":
            return Microsoft.ML.Quantization.Samples.Benchmarks.ScoringBenchmark.Run(Option("--out", Path.Combine("docs", "benchmarks")),
                Path.Combine("data", "subset", "fashion-mnist", "t10k-images-idx3-ubyte.gz"), int.Parse(Option("--rounds", "5")),
                args.Contains("--models") ? Option("--models", "").Split(',') : null,
                Option("--isa", "avx2,sse,scalar") == "none" ? Array.Empty<string>() : Option("--isa", "avx2,sse,scalar").Split(','), args.Contains("--isa-child") ? Option("--isa-child", "") : null);
        case "profile":
            return Microsoft.ML.Quantization.Samples.Benchmarks.ScoringProfile.Run(Option("--out", Path.Combine("docs", "benchmarks")),
                Path.Combine("data", "subset", "fashion-mnist", "t10k-images-idx3-ubyte.gz"), int.Parse(Option("--repeats", "500")), int.Parse(Option("--threads", "1")), Option("--model", "VggSmall"),
                args.Contains("--config") ? Option("--config", "") : null);
        case "kernels":
            return Microsoft.ML.Quantization.Samples.Benchmarks.KernelMicrobenchmark.Write(Option("--out", Path.Combine("docs", "benchmarks")));
        case "service-load":
            return Microsoft.ML.Quantization.Samples.Benchmarks.ServiceLoadBenchmark.Run(Option("--model", Path.Combine("artifacts", "image-classification", "model.zip")),
                Option("--out", Path.Combine("docs", "benchmarks")), int.Parse(Option("--clients", "8")), int.Parse(Option("--seconds", "20"))).GetAwaiter().GetResult();
        case "search-cost":
            return Microsoft.ML.Quantization.Samples.Benchmarks.SearchCostBenchmark.Run(Option("--model", "VggSmall"), args.Contains("--data") ? Option("--data", "") : null,
                Option("--out", Path.Combine("docs", "benchmarks")), int.Parse(Option("--limit", "0")));
        case "auto-image":
        case "auto-text":
            string task = command[5..];
            return Microsoft.ML.Quantization.Samples.Benchmarks.AutoQuantizationBenchmark.Run(task,
                Option("--data", Path.Combine("data", task == "image" ? "fashion-mnist" : "spam-assassin")), Option("--out", Path.Combine("docs", "benchmarks")),
                int.Parse(Option("--fp32-epochs", task == "image" ? "8" : "10")), int.Parse(Option("--epochs", "1")), int.Parse(Option("--limit", "0")),
                args.Contains("--only") ? Option("--only", "") : null, int.Parse(Option("--seed", "1")), Option("--model", "VggSmall"),
                args.Contains("--fine-tune-epochs") ? int.Parse(Option("--fine-tune-epochs", "")) : null,
                args.Contains("--curvature-weight") ? double.Parse(Option("--curvature-weight", ""), System.Globalization.CultureInfo.InvariantCulture) : null,
                args.Contains("--entropy-weight") ? double.Parse(Option("--entropy-weight", ""), System.Globalization.CultureInfo.InvariantCulture) : null);
        default:
            throw new Microsoft.ML.Quantization.Samples.UsageException($"unknown command '{command}'; commands: schemes, train-image, train-text, scoring, profile, kernels, search-cost, service-load, auto-image, auto-text");
    }
}
