using Microsoft.ML.Quantization.Search;
using ScottPlot;

namespace Microsoft.ML.Quantization.Samples;

/// <summary>A labelled point of a scatter chart.</summary>
internal sealed record LabeledPoint(string Series, string Label, double X, double Y);

/// <summary>The report's charts, each saved as a PNG.</summary>
internal static class Charts
{
    private const int Width = 900, Height = 520;

    /// <summary>
    /// The scheme probabilities of every quantizer vertex (AutoQNN Fig. 6/8): one stacked bar per vertex and search
    /// epoch, a segment per candidate scheme.
    /// </summary>
    public static void SchemeProbabilities(IReadOnlyList<SchemeProbabilities> history, string path)
    {
        var plot = new Plot();
        var schemes = history.SelectMany(h => h.Candidates.Select(c => c.Scheme)).Distinct().OrderBy(s => s).ToList();
        var colors = new ScottPlot.Palettes.Category10();
        var vertices = history.Select(h => h.Vertex).Distinct().ToList();
        int epochs = history.Max(h => h.Epoch);
        var bars = new List<Bar>();
        var ticks = new List<Tick>();
        for (int v = 0; v < vertices.Count; v++)
        {
            foreach (var record in history.Where(h => h.Vertex == vertices[v]))
            {
                double position = v * (epochs + 1) + record.Epoch - 1, bottom = 0;
                for (int i = 0; i < record.Candidates.Count; i++)
                {
                    double p = record.Probabilities[i];
                    bars.Add(new Bar { Position = position, ValueBase = bottom, Value = bottom + p, FillColor = colors.GetColor(schemes.IndexOf(record.Candidates[i].Scheme)) });
                    bottom += p;
                }
            }
            ticks.Add(new Tick(v * (epochs + 1) + (epochs - 1) / 2.0, vertices[v], true));
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 45;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 140;
        plot.Legend.ManualItems.AddRange(schemes.Select((s, i) => new LegendItem { LabelText = s.ToString(), FillColor = colors.GetColor(i) }));
        plot.ShowLegend(Edge.Right);
        plot.Title(epochs > 1 ? $"Scheme probabilities per vertex, search epochs 1–{epochs} (bars left to right)" : "Scheme probabilities per vertex after the search epoch");
        plot.YLabel("probability");
        plot.Axes.SetLimitsY(0, 1);
        plot.SavePng(path, Width + 200, Height + 80);
    }

    /// <summary>The learned bitwidth of every vertex over the precision-learning epochs (AutoQNN Fig. 9).</summary>
    public static void LearnedBits(IReadOnlyList<LearnedBits> history, string path)
    {
        var plot = new Plot();
        foreach (var vertex in history.GroupBy(h => h.Vertex))
        {
            var points = vertex.OrderBy(h => h.Epoch).ToList();
            var scatter = plot.Add.Scatter(points.Select(p => (double)p.Epoch).ToArray(), points.Select(p => p.Bits).ToArray());
            scatter.LegendText = vertex.Key;
            scatter.MarkerSize = 8;
        }
        plot.ShowLegend(Edge.Right);
        plot.Title("Learned bitwidth per vertex over the QPL epochs");
        plot.XLabel("QPL epoch");
        plot.YLabel("bits (continuous, before rounding)");
        plot.SavePng(path, Width + 200, Height);
    }

    /// <summary>Final weight and activation bits per layer.</summary>
    public static void LayerBits(IReadOnlyList<LayerQuantization> layers, string path)
    {
        var plot = new Plot();
        var colors = new ScottPlot.Palettes.Category10();
        var bars = new List<Bar>();
        for (int i = 0; i < layers.Count; i++)
        {
            bars.Add(new Bar { Position = 3 * i, Value = layers[i].Weights.Bits, FillColor = colors.GetColor(0), Label = layers[i].Weights.Scheme.ToString() });
            if (layers[i].Activations is { } a) bars.Add(new Bar { Position = 3 * i + 1, Value = a.Bits, FillColor = colors.GetColor(1), Label = a.Scheme.ToString() });
        }
        var added = plot.Add.Bars(bars);
        added.ValueLabelStyle.FontSize = 10;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(layers.Select((l, i) => new Tick(3 * i + 0.5, l.Layer, true)).ToArray());
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "weights", FillColor = colors.GetColor(0) });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "activations (input)", FillColor = colors.GetColor(1) });
        plot.ShowLegend(Alignment.UpperRight);
        plot.Title("Bits per layer (scheme above each bar)");
        plot.YLabel("bits");
        plot.Axes.SetLimitsY(0, 9.5);
        plot.SavePng(path, Width, Height);
    }

    /// <summary>Accuracy against average bits, one series per group of points, with a dashed line per FP32 reference.</summary>
    public static void AccuracyVersusBits(IReadOnlyList<LabeledPoint> points, IReadOnlyDictionary<string, double> fp32, string path) =>
        Scatter(points, path, "Test accuracy against average weight bits", "average weight bits", "test accuracy (%)", fp32);

    /// <summary>Model file size against single-example latency.</summary>
    public static void SizeVersusLatency(IReadOnlyList<LabeledPoint> points, string path) =>
        Scatter(points, path, "Model size against latency", "latency, one example (ms)", "model file (KiB)", null);

    private static void Scatter(IReadOnlyList<LabeledPoint> points, string path, string title, string x, string y, IReadOnlyDictionary<string, double>? references)
    {
        var plot = new Plot();
        var colors = new ScottPlot.Palettes.Category10();
        int series = 0;
        foreach (var group in points.GroupBy(p => p.Series))
        {
            var color = colors.GetColor(series++);
            var scatter = plot.Add.ScatterPoints(group.Select(p => p.X).ToArray(), group.Select(p => p.Y).ToArray(), color);
            scatter.LegendText = group.Key;
            scatter.MarkerSize = 9;
            foreach (var p in group)
            {
                var text = plot.Add.Text(p.Label, p.X, p.Y);
                text.LabelFontSize = 10;
                text.LabelFontColor = color;
                text.OffsetX = 6;
            }
            if (references is not null && references.TryGetValue(group.Key, out double reference))
            {
                var line = plot.Add.HorizontalLine(reference, 1, color, LinePattern.Dashed);
                line.LegendText = $"{group.Key} FP32";
            }
        }
        plot.Axes.Margins(horizontal: 0.25, vertical: 0.1); // room for the labels right of the points
        plot.ShowLegend(Alignment.LowerRight);
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        plot.SavePng(path, Width, Height);
    }
}
