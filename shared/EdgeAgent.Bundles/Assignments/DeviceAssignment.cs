using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeAgent.Bundles.Assignments;

/// <summary>
/// Which release each model family of one device should run: the hub's rollout decision, published
/// as the TUF target <c>assignments/&lt;deviceId&gt;.json</c> in the delegated role
/// <see cref="DeviceAssignmentLayout.RoleName"/> (an online key separate from the release signing
/// key, DESIGN §6). The device reads it through its TUF client, so the file is as trusted as any
/// target: hash- and length-pinned by signed metadata. A family missing from <see cref="Models"/>
/// means "keep what you run".
/// </summary>
public sealed class DeviceAssignment
{
    /// <summary>The device this assignment is for; a device refuses an assignment naming another id.</summary>
    public string DeviceId { get; set; } = "";

    /// <summary>Family → bundle target path (<c>models/&lt;family&gt;/&lt;version&gt;.bundle</c>).</summary>
    public Dictionary<string, string> Models { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The rollout that produced this assignment, for reports (null for a manual pin).</summary>
    public string? Rollout { get; set; }

    /// <summary>When the hub decided it (informational: freshness comes from TUF timestamp expiry).</summary>
    public DateTimeOffset IssuedAt { get; set; }
}

/// <summary>Names of the assignment targets and role, and their JSON form.</summary>
public static class DeviceAssignmentLayout
{
    /// <summary>The delegated targets role that signs assignments (paths <c>assignments/*</c>).</summary>
    public const string RoleName = "assignments";

    /// <summary>The delegation path pattern of <see cref="RoleName"/> (TUF: <c>*</c> does not cross '/').</summary>
    public const string PathPattern = "assignments/*";

    /// <summary>Largest assignment file a device accepts.</summary>
    public const int MaxBytes = 64 * 1024;

    /// <summary>The TUF target path of the assignment of <paramref name="deviceId"/>.</summary>
    public static string TargetPath(string deviceId)
    {
        if (!BundleLayout.IsName(deviceId))
            throw new BundleException(BundleFailure.Assignment, $"device id '{deviceId}' must be 1–64 characters of letters, digits, '.', '_' or '-', not starting with '.'.");
        return $"assignments/{deviceId}.json";
    }

    public static byte[] Serialize(DeviceAssignment assignment) =>
        JsonSerializer.SerializeToUtf8Bytes(assignment, DeviceAssignmentJsonContext.Default.DeviceAssignment);

    /// <summary>Parses an assignment and checks it is for <paramref name="deviceId"/> and names only bundle targets; throws <see cref="BundleException"/>.</summary>
    public static DeviceAssignment Parse(ReadOnlySpan<byte> json, string deviceId)
    {
        if (json.Length > MaxBytes)
            throw new BundleException(BundleFailure.Assignment, $"assignment for '{deviceId}' is {json.Length} bytes; the limit is {MaxBytes}.");
        DeviceAssignment? a;
        try
        {
            a = JsonSerializer.Deserialize(json, DeviceAssignmentJsonContext.Default.DeviceAssignment);
        }
        catch (JsonException e)
        {
            throw new BundleException(BundleFailure.Assignment, $"assignment for '{deviceId}' is not valid JSON: {e.Message}", e);
        }
        if (a is null) throw new BundleException(BundleFailure.Assignment, $"assignment for '{deviceId}' is 'null'.");
        if (a.DeviceId != deviceId)
            throw new BundleException(BundleFailure.Assignment, $"assignment names device '{a.DeviceId}', not this device '{deviceId}'.");
        foreach (var (family, target) in a.Models)
            if (!BundleLayout.IsName(family) || !BundleLayout.TryParseTargetPath(target, family, out _))
                throw new BundleException(BundleFailure.Assignment, $"assignment for '{deviceId}': '{family}' → '{target}' is not models/<family>/<version>.bundle.");
        return a;
    }
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = false, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(DeviceAssignment))]
internal sealed partial class DeviceAssignmentJsonContext : JsonSerializerContext
{
}
