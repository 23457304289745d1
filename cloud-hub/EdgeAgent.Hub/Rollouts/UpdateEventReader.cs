using System.Globalization;
using System.Text.Json;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Hub.Rollouts;

/// <summary>
/// Reads one event of the <c>update</c> stream: the JSON the agent's update state machine writes
/// (agent/EdgeAgent.Updates <c>UpdateEvent</c>, web defaults: <c>family</c>, <c>version</c>,
/// <c>releaseCounter</c>, <c>from</c>, <c>to</c>, <c>reason</c>, <c>metrics</c>, <c>at</c>, <c>code</c>).
/// Stateless, thread-safe.
/// </summary>
public static class UpdateEventReader
{
    /// <summary>Phases the agent reports (kebab-case wire names of its <c>UpdatePhase</c>).</summary>
    public static readonly IReadOnlySet<string> Phases = new HashSet<string>(StringComparer.Ordinal)
    {
        "idle", "downloading", "verifying", "validating", "shadow", "activating", "observing", "committed", "rolled-back", "refused",
    };

    /// <summary>False with an operator-readable <paramref name="problem"/> (naming the seq) when the event is not an update transition.</summary>
    public static bool TryRead(string deviceId, string bootId, TelemetryEvent e, out DeviceUpdateEvent? update, out string? problem)
    {
        update = null;
        problem = null;
        if (e.Data is not { ValueKind: JsonValueKind.Object } d)
        {
            problem = $"seq {e.Seq}: an update event must be a JSON object in 'data'";
            return false;
        }
        string? family = Text(d, "family"), version = Text(d, "version"), from = Text(d, "from"), to = Text(d, "to");
        if (string.IsNullOrEmpty(family) || string.IsNullOrEmpty(version))
        {
            problem = $"seq {e.Seq}: update event needs 'family' and 'version'";
            return false;
        }
        if (to is null || !Phases.Contains(to) || from is null || !Phases.Contains(from))
        {
            problem = $"seq {e.Seq}: update event phases '{from}' → '{to}' are not among {string.Join(", ", Phases)}";
            return false;
        }
        long counter = 0;
        if (d.TryGetProperty("releaseCounter", out var rc) && (rc.ValueKind != JsonValueKind.Number || !rc.TryGetInt64(out counter) || counter < 0))
        {
            problem = $"seq {e.Seq}: update event 'releaseCounter' must be a non-negative integer";
            return false;
        }
        var at = e.Ts;
        if (Text(d, "at") is { } atText && !DateTimeOffset.TryParse(atText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out at))
        {
            problem = $"seq {e.Seq}: update event 'at' '{atText}' is not an ISO 8601 time";
            return false;
        }
        string? metrics = d.TryGetProperty("metrics", out var m) && m.ValueKind == JsonValueKind.Object ? m.GetRawText() : null;
        update = new DeviceUpdateEvent(deviceId, bootId, e.Seq, family, version, counter, from, to, Text(d, "reason"), Text(d, "code"), metrics, at);
        return true;
    }

    private static string? Text(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
