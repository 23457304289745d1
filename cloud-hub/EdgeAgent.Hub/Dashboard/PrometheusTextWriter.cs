using System.Globalization;
using System.Text;

namespace EdgeAgent.Hub.Dashboard;

/// <summary>
/// Writes the Prometheus text exposition format 0.0.4: per metric family one <c># HELP</c> and one
/// <c># TYPE</c> line, then its samples <c>name{label="value",…} number</c>. Escaping per the format:
/// HELP text escapes <c>\</c> and line feed; label values escape <c>\</c>, <c>"</c> and line feed.
/// Numbers are Go-style floats (<c>NaN</c>, <c>+Inf</c>, <c>-Inf</c>). Not thread-safe (one per scrape).
/// </summary>
public sealed class PrometheusTextWriter
{
    /// <summary>The Content-Type of this format.</summary>
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    private readonly StringBuilder _text = new();
    private readonly HashSet<string> _families = new(StringComparer.Ordinal);
    private string? _current;

    /// <summary>Starts a metric family. Each name may be declared once per exposition (the format forbids repeats).</summary>
    /// <param name="type"><c>counter</c>, <c>gauge</c>, <c>summary</c>, <c>histogram</c> or <c>untyped</c>.</param>
    public PrometheusTextWriter Family(string name, string type, string help)
    {
        if (!IsMetricName(name)) throw new ArgumentException($"'{name}' is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)", nameof(name));
        if (type is not ("counter" or "gauge" or "summary" or "histogram" or "untyped")) throw new ArgumentException($"unknown metric type '{type}'", nameof(type));
        if (!_families.Add(name)) throw new InvalidOperationException($"metric family '{name}' declared twice in one exposition");
        _current = name;
        _text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help)).Append('\n');
        _text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        return this;
    }

    /// <summary>One sample of the current family; <paramref name="labels"/> are (name, value) pairs.</summary>
    public PrometheusTextWriter Sample(double value, params (string Name, string Value)[] labels)
    {
        var name = _current ?? throw new InvalidOperationException("declare a family before its samples");
        _text.Append(name);
        if (labels.Length > 0)
        {
            _text.Append('{');
            for (int i = 0; i < labels.Length; i++)
            {
                if (!IsLabelName(labels[i].Name)) throw new ArgumentException($"'{labels[i].Name}' is not a Prometheus label name", nameof(labels));
                if (i > 0) _text.Append(',');
                _text.Append(labels[i].Name).Append("=\"").Append(EscapeLabelValue(labels[i].Value)).Append('"');
            }
            _text.Append('}');
        }
        _text.Append(' ').Append(FormatValue(value)).Append('\n');
        return this;
    }

    public override string ToString() => _text.ToString();

    public static string FormatValue(double v) => double.IsNaN(v) ? "NaN"
        : double.IsPositiveInfinity(v) ? "+Inf"
        : double.IsNegativeInfinity(v) ? "-Inf"
        : v.ToString("R", CultureInfo.InvariantCulture);

    public static string EscapeHelp(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public static string EscapeLabelValue(string s) =>
        s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public static bool IsMetricName(string s) => s.Length > 0 && IsNameStart(s[0], colon: true) && s.All(c => IsNameStart(c, colon: true) || char.IsAsciiDigit(c));

    public static bool IsLabelName(string s) => s.Length > 0 && IsNameStart(s[0], colon: false) && !s.StartsWith("__", StringComparison.Ordinal)
        && s.All(c => IsNameStart(c, colon: false) || char.IsAsciiDigit(c));

    private static bool IsNameStart(char c, bool colon) => char.IsAsciiLetter(c) || c == '_' || (colon && c == ':');
}
