using System.Globalization;
using System.Text;

namespace EdgeAgent.Hosting.Metrics;

/// <summary>
/// The agent's metrics and their Prometheus text exposition (format 0.0.4). Components create their
/// metrics once at start and keep the returned objects; the exporter calls <see cref="Write"/> per scrape.
/// </summary>
/// <remarks>Thread-safe. Names and label names are checked at creation so a typo fails at start, not at scrape.</remarks>
public sealed class MetricsRegistry
{
    private readonly object _gate = new();
    private readonly Dictionary<string, MetricFamily> _families = new(StringComparer.Ordinal);

    public Counter CreateCounter(string name, string help) => CreateCounter(name, help, []).WithLabels();
    public Gauge CreateGauge(string name, string help) => CreateGauge(name, help, []).WithLabels();
    public Histogram CreateHistogram(string name, string help, double[] buckets) => CreateHistogram(name, help, buckets, []).WithLabels();

    /// <summary>A gauge evaluated at every scrape. <paramref name="observe"/> must be cheap and thread-safe.</summary>
    public void CreateCallbackGauge(string name, string help, Func<double> observe) =>
        Add(new MetricFamily<Gauge>(name, help, MetricType.Gauge, [], () => new Gauge(observe))).WithLabels();

    public MetricFamily<Counter> CreateCounter(string name, string help, params string[] labelNames)
    {
        if (!name.EndsWith("_total", StringComparison.Ordinal))
            throw new ArgumentException($"counter {name} should end in _total (Prometheus naming convention)");
        return Add(new MetricFamily<Counter>(name, help, MetricType.Counter, labelNames, () => new Counter()));
    }

    public MetricFamily<Gauge> CreateGauge(string name, string help, params string[] labelNames) =>
        Add(new MetricFamily<Gauge>(name, help, MetricType.Gauge, labelNames, () => new Gauge()));

    /// <param name="name">Metric name.</param>
    /// <param name="help">HELP text.</param>
    /// <param name="buckets">Finite, strictly increasing upper bounds; +Inf is implicit.</param>
    /// <param name="labelNames">Label names ("le" is reserved).</param>
    public MetricFamily<Histogram> CreateHistogram(string name, string help, double[] buckets, params string[] labelNames)
    {
        if (buckets.Length == 0 || buckets.Any(b => !double.IsFinite(b)) || buckets.Zip(buckets.Skip(1)).Any(p => p.First >= p.Second))
            throw new ArgumentException($"histogram {name}: buckets must be finite and strictly increasing");
        if (labelNames.Contains("le")) throw new ArgumentException($"histogram {name}: label name 'le' is reserved");
        double[] bounds = [.. buckets];
        return Add(new MetricFamily<Histogram>(name, help, MetricType.Histogram, labelNames, () => new Histogram(bounds)));
    }

    private T Add<T>(T family) where T : MetricFamily
    {
        if (!IsValidName(family.Name, allowColon: true)) throw new ArgumentException($"'{family.Name}' is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)");
        foreach (var l in family.LabelNames)
            if (!IsValidName(l, allowColon: false) || l.StartsWith("__", StringComparison.Ordinal))
                throw new ArgumentException($"metric {family.Name}: '{l}' is not a valid label name");
        lock (_gate)
        {
            if (!_families.TryAdd(family.Name, family)) throw new ArgumentException($"metric {family.Name} is registered twice");
        }
        return family;
    }

    private static bool IsValidName(string s, bool allowColon) =>
        s.Length > 0 && !char.IsAsciiDigit(s[0])
        && s.All(c => char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':'));

    /// <summary>Writes the text exposition of every metric, families sorted by name.</summary>
    public void Write(TextWriter w)
    {
        MetricFamily[] families;
        lock (_gate) families = [.. _families.Values.OrderBy(f => f.Name, StringComparer.Ordinal)];
        var line = new StringBuilder();
        foreach (var f in families)
        {
            w.Write("# HELP "); w.Write(f.Name); w.Write(' '); w.Write(EscapeHelp(f.Help)); w.Write('\n');
            w.Write("# TYPE "); w.Write(f.Name); w.Write(' '); w.Write(f.Type switch { MetricType.Counter => "counter", MetricType.Gauge => "gauge", _ => "histogram" }); w.Write('\n');
            foreach (var (labels, child) in f.Children())
            {
                switch (child)
                {
                    case Counter c: Sample(w, line, f.Name, f.LabelNames, labels, null, c.Value); break;
                    case Gauge g: Sample(w, line, f.Name, f.LabelNames, labels, null, g.Value); break;
                    case Histogram h:
                        var cumulative = h.CumulativeCounts();
                        for (int i = 0; i < cumulative.Length; i++)
                            Sample(w, line, f.Name + "_bucket", f.LabelNames, labels,
                                i < h.UpperBounds.Count ? FormatValue(h.UpperBounds[i]) : "+Inf", cumulative[i]);
                        Sample(w, line, f.Name + "_sum", f.LabelNames, labels, null, h.Sum);
                        Sample(w, line, f.Name + "_count", f.LabelNames, labels, null, cumulative[^1]);
                        break;
                }
            }
        }
    }

    /// <summary>The exposition as a string.</summary>
    public string Render()
    {
        var sw = new StringWriter(CultureInfo.InvariantCulture);
        Write(sw);
        return sw.ToString();
    }

    private static void Sample(TextWriter w, StringBuilder line, string name, IReadOnlyList<string> names, string[] values, string? le, double value)
    {
        line.Clear().Append(name);
        if (names.Count > 0 || le is not null)
        {
            line.Append('{');
            for (int i = 0; i < names.Count; i++)
            {
                if (i > 0) line.Append(',');
                line.Append(names[i]).Append("=\"").Append(EscapeLabel(values[i])).Append('"');
            }
            if (le is not null) line.Append(names.Count > 0 ? "," : "").Append("le=\"").Append(le).Append('"');
            line.Append('}');
        }
        line.Append(' ').Append(FormatValue(value)).Append('\n');
        w.Write(line);
    }

    /// <summary>Go-style float text: +Inf, -Inf, NaN, otherwise the shortest round-trip form.</summary>
    public static string FormatValue(double v) =>
        double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN"
        : v.ToString("R", CultureInfo.InvariantCulture);

    // Exposition format 0.0.4: in HELP, escape backslash and newline; in label values also the double quote.
    internal static string EscapeHelp(string s) => s.Replace("\\", @"\\", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal);
    internal static string EscapeLabel(string s) => EscapeHelp(s).Replace("\"", "\\\"", StringComparison.Ordinal);
}
