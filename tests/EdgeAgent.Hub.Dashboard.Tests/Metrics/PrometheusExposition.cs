using System.Globalization;
using System.Text;

namespace EdgeAgent.Hub.Dashboard.Tests.Metrics;

/// <summary>One sample: metric name, labels in order, value.</summary>
public sealed record PromSample(string Name, IReadOnlyList<KeyValuePair<string, string>> Labels, double Value)
{
    public string? Label(string name) => Labels.FirstOrDefault(l => l.Key == name).Value;
}

/// <summary>A metric family: HELP text (unescaped), TYPE, samples.</summary>
public sealed record PromFamily(string Name, string Type, string Help, List<PromSample> Samples);

/// <summary>
/// A strict parser for the Prometheus text exposition format 0.0.4, written from the format's
/// description, independent of the hub's writer: every family has exactly one HELP and one TYPE line
/// before its samples, families are contiguous and never repeated, sample names belong to their family
/// (summary/histogram suffixes allowed), label names are valid and unique per sample, label values use
/// only the escapes \\, \" and \n, values are Go floats (NaN, +Inf, -Inf), no series appears twice, and
/// the text ends with a line feed. Any violation throws <see cref="FormatException"/> naming the line.
/// </summary>
public static class PrometheusExposition
{
    private static readonly HashSet<string> Types = ["counter", "gauge", "summary", "histogram", "untyped"];

    public static IReadOnlyDictionary<string, PromFamily> Parse(string text)
    {
        if (text.Length > 0 && !text.EndsWith('\n')) throw new FormatException("the exposition must end with a line feed");
        var families = new Dictionary<string, PromFamily>(StringComparer.Ordinal);
        var series = new HashSet<string>(StringComparer.Ordinal);
        PromFamily? current = null;
        string? pendingHelpName = null, pendingHelp = null;
        var lines = text.Split('\n');
        for (int n = 0; n < lines.Length - 1; n++)
        {
            var line = lines[n];
            string Where() => $"line {n + 1} '{line}'";
            if (line.Length == 0) continue;
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                var rest = line["# HELP ".Length..];
                int sp = rest.IndexOf(' ');
                var name = sp < 0 ? rest : rest[..sp];
                if (!IsMetricName(name)) throw new FormatException($"{Where()}: bad metric name in HELP");
                if (families.ContainsKey(name) || pendingHelpName is not null) throw new FormatException($"{Where()}: HELP repeated or out of place");
                pendingHelpName = name;
                pendingHelp = UnescapeHelp(sp < 0 ? "" : rest[(sp + 1)..], Where);
                continue;
            }
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line["# TYPE ".Length..].Split(' ');
                if (parts.Length != 2 || !IsMetricName(parts[0]) || !Types.Contains(parts[1])) throw new FormatException($"{Where()}: bad TYPE line");
                if (families.ContainsKey(parts[0])) throw new FormatException($"{Where()}: family '{parts[0]}' declared twice");
                if (pendingHelpName != parts[0]) throw new FormatException($"{Where()}: TYPE of '{parts[0]}' without its HELP line right before it");
                current = new PromFamily(parts[0], parts[1], pendingHelp!, []);
                families.Add(parts[0], current);
                pendingHelpName = pendingHelp = null;
                continue;
            }
            if (line.StartsWith('#')) continue; // other comments are allowed
            if (pendingHelpName is not null) throw new FormatException($"{Where()}: sample after a HELP line without TYPE");
            var sample = ParseSample(line, Where);
            if (current is null || !BelongsTo(sample.Name, current))
                throw new FormatException($"{Where()}: sample '{sample.Name}' outside its family's block (families must be contiguous and declared first)");
            var key = sample.Name + "{" + string.Join(",", sample.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
            if (!series.Add(key)) throw new FormatException($"{Where()}: series {key} appears twice");
            current.Samples.Add(sample);
        }
        if (pendingHelpName is not null) throw new FormatException($"HELP of '{pendingHelpName}' has no TYPE line");
        return families;
    }

    private static bool BelongsTo(string sample, PromFamily f) => sample == f.Name || f.Type switch
    {
        "summary" => sample == f.Name + "_sum" || sample == f.Name + "_count",
        "histogram" => sample == f.Name + "_sum" || sample == f.Name + "_count" || sample == f.Name + "_bucket",
        _ => false,
    };

    private static PromSample ParseSample(string line, Func<string> where)
    {
        int i = 0;
        while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] is '_' or ':')) i++;
        var name = line[..i];
        if (!IsMetricName(name)) throw new FormatException($"{where()}: bad metric name");
        var labels = new List<KeyValuePair<string, string>>();
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (true)
            {
                if (i < line.Length && line[i] == '}') { i++; break; }
                int start = i;
                while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] == '_')) i++;
                var label = line[start..i];
                if (label.Length == 0 || char.IsAsciiDigit(label[0]) || label.StartsWith("__", StringComparison.Ordinal))
                    throw new FormatException($"{where()}: bad label name '{label}'");
                if (labels.Any(l => l.Key == label)) throw new FormatException($"{where()}: label '{label}' repeated");
                if (i + 1 >= line.Length || line[i] != '=' || line[i + 1] != '"') throw new FormatException($"{where()}: expected =\" after label '{label}'");
                i += 2;
                var value = new StringBuilder();
                while (true)
                {
                    if (i >= line.Length) throw new FormatException($"{where()}: unterminated label value");
                    char c = line[i++];
                    if (c == '"') break;
                    if (c == '\\')
                    {
                        if (i >= line.Length) throw new FormatException($"{where()}: dangling backslash");
                        char e = line[i++];
                        value.Append(e switch
                        {
                            '\\' => '\\', '"' => '"', 'n' => '\n',
                            _ => throw new FormatException($"{where()}: invalid escape \\{e} in a label value"),
                        });
                    }
                    else value.Append(c);
                }
                labels.Add(new(label, value.ToString()));
                if (i < line.Length && line[i] == ',') { i++; continue; }
                if (i < line.Length && line[i] == '}') { i++; break; }
                throw new FormatException($"{where()}: expected , or }} after a label");
            }
        }
        if (i >= line.Length || line[i] != ' ') throw new FormatException($"{where()}: expected one space before the value");
        var fields = line[(i + 1)..].Split(' ');
        if (fields.Length is < 1 or > 2 || fields[0].Length == 0) throw new FormatException($"{where()}: expected 'value [timestamp]'");
        double v = fields[0] switch
        {
            "NaN" => double.NaN, "+Inf" => double.PositiveInfinity, "-Inf" => double.NegativeInfinity,
            _ => double.TryParse(fields[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw new FormatException($"{where()}: value '{fields[0]}' is not a float"),
        };
        if (fields.Length == 2 && !long.TryParse(fields[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            throw new FormatException($"{where()}: timestamp '{fields[1]}' is not an integer");
        return new PromSample(name, labels, v);
    }

    private static string UnescapeHelp(string s, Func<string> where)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] != '\\') { sb.Append(s[i]); continue; }
            if (++i >= s.Length) throw new FormatException($"{where()}: dangling backslash in HELP");
            sb.Append(s[i] switch { '\\' => '\\', 'n' => '\n', _ => throw new FormatException($"{where()}: invalid escape \\{s[i]} in HELP") });
        }
        return sb.ToString();
    }

    private static bool IsMetricName(string s) =>
        s.Length > 0 && (char.IsAsciiLetter(s[0]) || s[0] is '_' or ':') && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':');
}
