using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace EdgeAgent.Hosting.Configuration;

/// <summary>
/// Reads typed values out of one configuration section by hand (no reflection, so Native AOT safe),
/// recording one <see cref="ConfigProblem"/> per bad value instead of throwing on the first.
/// Also reports keys nobody asked for, which are almost always typos.
/// </summary>
/// <remarks>Not thread-safe; one instance per bind.</remarks>
internal sealed class ConfigReader(IConfiguration section, string path, List<ConfigProblem> problems)
{
    private readonly HashSet<string> _known = new(StringComparer.OrdinalIgnoreCase);

    public string Path { get; } = path;

    public ConfigReader Section(string key)
    {
        _known.Add(key);
        return new ConfigReader(section.GetSection(key), Join(key), problems);
    }

    public IConfigurationSection? Opaque(string key)
    {
        _known.Add(key);
        var s = section.GetSection(key);
        return s.Exists() ? s : null;
    }

    public void Error(string key, string message) => problems.Add(new(ConfigProblemSeverity.Error, Join(key), message));
    public void Warning(string key, string message) => problems.Add(new(ConfigProblemSeverity.Warning, Join(key), message));

    public bool Has(string key) => Raw(key) is not null;

    /// <summary>The placeholder the packaged agent.json ships with for values only the operator knows.</summary>
    public const string Placeholder = "CHANGE-ME";

    public string? String(string key)
    {
        var v = Raw(key);
        if (string.IsNullOrWhiteSpace(v)) return null;
        if (v.Trim() == Placeholder) Error(key, $"still has the placeholder {Placeholder} from the packaged agent.json; set the real value");
        return v.Trim();
    }

    public int Int(string key, int fallback, int min, int max)
    {
        var v = Raw(key);
        if (string.IsNullOrWhiteSpace(v)) return fallback;
        if (!int.TryParse(v.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
        {
            Error(key, $"'{v}' is not a whole number between {min} and {max}");
            return fallback;
        }
        return n;
    }

    public double Double(string key, double fallback, double min, double max)
    {
        var v = Raw(key);
        if (string.IsNullOrWhiteSpace(v)) return fallback;
        if (!double.TryParse(v.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double n) || !(n >= min && n <= max))
        {
            Error(key, $"'{v}' is not a number between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}");
            return fallback;
        }
        return n;
    }

    /// <summary>A JSON array of strings (configuration flattens it to keys 0, 1, …); a single string counts as one item.</summary>
    public IReadOnlyList<string> StringList(string key)
    {
        _known.Add(key);
        var s = section.GetSection(key);
        if (s.Value is { } single) return string.IsNullOrWhiteSpace(single) ? [] : [single.Trim()];
        var items = new List<string>();
        foreach (var child in s.GetChildren().OrderBy(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out int i) ? i : int.MaxValue))
        {
            if (!int.TryParse(child.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _) || child.Value is null)
            {
                Error(key, "expected a list of strings, for example [\"vibration_fault\"]");
                return [];
            }
            if (!string.IsNullOrWhiteSpace(child.Value)) items.Add(child.Value.Trim());
        }
        return items;
    }

    public bool Bool(string key, bool fallback)
    {
        var v = Raw(key);
        if (string.IsNullOrWhiteSpace(v)) return fallback;
        if (bool.TryParse(v.Trim(), out bool b)) return b;
        Error(key, $"'{v}' is not true or false");
        return fallback;
    }

    public TEnum Enum<TEnum>(string key, TEnum fallback) where TEnum : struct, Enum
    {
        var v = Raw(key);
        if (string.IsNullOrWhiteSpace(v)) return fallback;
        // Names only: a number would silently map to whatever value it happens to be.
        if (!v.Trim().All(char.IsAsciiDigit) && System.Enum.TryParse(v.Trim(), ignoreCase: true, out TEnum e)) return e;
        Error(key, $"'{v}' is not one of {string.Join(", ", System.Enum.GetNames<TEnum>())}");
        return fallback;
    }

    /// <summary>A byte count: a plain number or with a unit (KiB, MiB, GiB, KB, MB, GB).</summary>
    public long Bytes(string key, long fallback, long min)
    {
        var v = Raw(key);
        if (string.IsNullOrWhiteSpace(v)) return fallback;
        if (!TryParseBytes(v.Trim(), out long n) || n < min)
        {
            Error(key, $"'{v}' is not a size of at least {FormatBytes(min)} (examples: 67108864, 64MiB, 1GiB)");
            return fallback;
        }
        return n;
    }

    /// <summary>A duration: seconds as a number, a number with ms/s/m/h, or hh:mm:ss.</summary>
    public TimeSpan Duration(string key, TimeSpan fallback, TimeSpan min, TimeSpan max)
    {
        var v = Raw(key);
        if (string.IsNullOrWhiteSpace(v)) return fallback;
        if (!TryParseDuration(v.Trim(), out var d) || d < min || d > max)
        {
            Error(key, $"'{v}' is not a duration between {FormatDuration(min)} and {FormatDuration(max)} (examples: 30, 30s, 500ms, 5m, 00:00:30)");
            return fallback;
        }
        return d;
    }

    /// <summary>Records a warning for every child key that was never read.</summary>
    public void WarnUnknownKeys()
    {
        foreach (var child in section.GetChildren())
            if (!_known.Contains(child.Key))
                problems.Add(new(ConfigProblemSeverity.Warning, Join(child.Key),
                    $"unknown setting (ignored); known settings here: {string.Join(", ", _known.Select(Camel).Order(StringComparer.Ordinal))}"));
    }

    private string? Raw(string key)
    {
        _known.Add(key);
        var s = section.GetSection(key);
        if (s.Value is null && s.GetChildren().Any()) Error(key, "expected a single value, found a section");
        return s.Value;
    }

    private string Join(string key) => Path.Length == 0 ? Camel(key) : $"{Path}.{Camel(key)}";

    private static string Camel(string key) => key.Length == 0 ? key : char.ToLowerInvariant(key[0]) + key[1..];

    internal static bool TryParseBytes(string s, out long bytes)
    {
        bytes = 0;
        int i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
        if (i == 0 || !double.TryParse(s.AsSpan(0, i), NumberStyles.Float, CultureInfo.InvariantCulture, out double n)) return false;
        long unit = s[i..].Trim().ToLowerInvariant() switch
        {
            "" or "b" => 1,
            "k" or "kb" => 1000, "kib" => 1024,
            "m" or "mb" => 1000_000, "mib" => 1024 * 1024,
            "g" or "gb" => 1000_000_000, "gib" => 1024L * 1024 * 1024,
            _ => 0,
        };
        if (unit == 0 || n * unit > long.MaxValue) return false;
        bytes = (long)(n * unit);
        return true;
    }

    internal static bool TryParseDuration(string s, out TimeSpan d)
    {
        d = default;
        if (s.Contains(':')) return TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out d) && d >= TimeSpan.Zero;
        int i = 0;
        while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
        if (i == 0 || !double.TryParse(s.AsSpan(0, i), NumberStyles.Float, CultureInfo.InvariantCulture, out double n)) return false;
        double ms = s[i..].Trim().ToLowerInvariant() switch
        {
            "" or "s" => n * 1000, "ms" => n, "m" or "min" => n * 60_000, "h" => n * 3_600_000,
            _ => double.NaN,
        };
        if (double.IsNaN(ms) || ms > TimeSpan.MaxValue.TotalMilliseconds) return false;
        d = TimeSpan.FromMilliseconds(ms);
        return true;
    }

    internal static string FormatBytes(long b) =>
        b >= 1024 * 1024 && b % (1024 * 1024) == 0 ? $"{b / (1024 * 1024)}MiB" : b >= 1024 && b % 1024 == 0 ? $"{b / 1024}KiB" : $"{b}B";

    internal static string FormatDuration(TimeSpan t) =>
        t.TotalMilliseconds < 1000 || t.Milliseconds != 0 ? $"{t.TotalMilliseconds:0}ms" : $"{t.TotalSeconds:0}s";
}
