using System.Text;
using System.Text.Json;
using EdgeAgent.Hub.Storage;

namespace EdgeAgent.Hub.Devices;

/// <summary>
/// Reads the retained status payload of <c>edgeagent/v1/{id}/status</c> (DESIGN.md §5): a JSON object
/// with <c>online</c> (bool, required; the Last Will carries <c>false</c>) and optional
/// <c>agentVersion</c>, <c>activeModel</c>, <c>updateState</c>, <c>health</c> (strings, or objects kept
/// as JSON text). Unknown fields are kept in the raw JSON. Stateless, thread-safe.
/// </summary>
public static class DeviceStatusParser
{
    public static DeviceStatusReport Parse(ReadOnlySpan<byte> payload, DateTimeOffset receivedAt)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(payload.ToArray());
        }
        catch (JsonException e)
        {
            throw new FormatException($"status payload is not JSON ({e.Message})", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException("status payload must be a JSON object");
            if (!root.TryGetProperty("online", out var online) || online.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                throw new FormatException("status payload needs a boolean 'online' field");
            return new DeviceStatusReport(online.GetBoolean(), Text(root, "agentVersion"), Text(root, "activeModel"),
                Text(root, "updateState"), Text(root, "health"), Encoding.UTF8.GetString(payload), receivedAt);
        }
    }

    private static string? Text(JsonElement root, string name) =>
        !root.TryGetProperty(name, out var v) ? null : v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Null => null,
            _ => v.GetRawText(),
        };
}
