using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeAgent.Sensors.Configuration;
using Microsoft.Extensions.Configuration;

namespace EdgeAgent.Agent.Configuration;

/// <summary>
/// Turns the <c>sensors</c> configuration section into the sensor library's options. Configuration
/// providers keep every value as a string (JSON file, <c>EDGEAGENT__</c> environment and command line
/// alike), so the section is rebuilt as JSON — numbers and booleans restored, children named 0, 1, 2 …
/// as arrays — and read with the library's source-generated contract, which reports unknown keys.
/// </summary>
internal static class SensorsSection
{
    /// <exception cref="SensorConfigurationException">The section does not describe a valid sensor source.</exception>
    public static SensorSourceOptions Bind(IConfigurationSection section)
    {
        var node = ToNode(section) ?? new JsonObject();
        try
        {
            return node.Deserialize(SensorsJsonContext.Default.SensorSourceOptions)
                ?? throw new SensorConfigurationException(["sensors: the section is empty"]);
        }
        catch (JsonException e)
        {
            throw new SensorConfigurationException([$"sensors{(e.Path is { Length: > 1 } p ? p[1..] : "")}: {e.Message}"]);
        }
    }

    /// <summary>Every problem with the section, one message each (what <c>config check</c> prints).</summary>
    public static IReadOnlyList<string> Validate(IConfigurationSection section)
    {
        try
        {
            return SensorSourceFactory.Validate(Bind(section));
        }
        catch (SensorConfigurationException e)
        {
            return e.Problems;
        }
    }

    private static JsonNode? ToNode(IConfigurationSection section)
    {
        var children = section.GetChildren().ToList();
        if (children.Count == 0) return section.Value is null ? null : Scalar(section.Value);
        if (children.All(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            var array = new JsonArray();
            foreach (var child in children.OrderBy(c => int.Parse(c.Key, CultureInfo.InvariantCulture))) array.Add(ToNode(child));
            return array;
        }
        var obj = new JsonObject();
        foreach (var child in children) obj[child.Key] = ToNode(child);
        return obj;
    }

    private static JsonNode Scalar(string value)
    {
        if (value is "true" or "false") return JsonValue.Create(value == "true");
        if (long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return JsonValue.Create(l);
        if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)) return JsonValue.Create(d);
        return JsonValue.Create(value);
    }
}
