namespace EdgeAgent.Hub.Storage;

/// <summary>Roles of API tokens, from least to most privileged (a role includes the ones before it).</summary>
public enum HubRole
{
    /// <summary>May read everything except the audit log and tokens.</summary>
    ReadOnly = 0,

    /// <summary>May also register devices and models and change labels.</summary>
    Operator = 1,

    /// <summary>May also create tokens, delete devices, run retention and read the audit log.</summary>
    Admin = 2,
}

/// <summary>Wire names of <see cref="HubRole"/> (<c>read-only</c>, <c>operator</c>, <c>admin</c>).</summary>
public static class HubRoles
{
    public static string WireName(HubRole role) => role switch
    {
        HubRole.ReadOnly => "read-only",
        HubRole.Operator => "operator",
        HubRole.Admin => "admin",
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "unknown role"),
    };

    public static bool TryParse(string? name, out HubRole role)
    {
        switch (name)
        {
            case "read-only" or "readonly": role = HubRole.ReadOnly; return true;
            case "operator": role = HubRole.Operator; return true;
            case "admin": role = HubRole.Admin; return true;
            default: role = default; return false;
        }
    }
}

/// <summary>An API token as stored: never the token itself, only its SHA-256.</summary>
public sealed record ApiTokenRecord(string Id, string Name, HubRole Role, string TokenHash, DateTimeOffset CreatedAt);

/// <summary>One row of the append-only audit log.</summary>
/// <param name="Actor">Who: the token name and id (<c>ci (tok_1a2b)</c>), <c>anonymous</c>, or <c>cli</c>.</param>
/// <param name="Action">What: <c>POST /api/v1/devices</c> or a CLI verb.</param>
/// <param name="Target">What it was done to (a device id, a model name/version), if known.</param>
/// <param name="Status">HTTP status of the outcome (or 0 for CLI actions).</param>
public sealed record AuditEntry(long Id, DateTimeOffset At, string Actor, string Action, string? Target, int Status, string? Detail);

/// <summary>A registered device with its last reported state.</summary>
/// <param name="Online">Null until the device has reported its status.</param>
/// <param name="StatusJson">The last status payload as received (JSON), null until reported.</param>
/// <param name="RevokedAt">When its credentials were revoked (<c>edgehub devices revoke</c>); null while active.</param>
public sealed record DeviceRecord(
    string Id,
    IReadOnlyDictionary<string, string> Labels,
    DateTimeOffset CreatedAt,
    bool? Online,
    string? AgentVersion,
    string? ActiveModel,
    string? UpdateState,
    string? Health,
    string? StatusJson,
    DateTimeOffset? StatusAt,
    DateTimeOffset? RevokedAt = null);

/// <summary>Reported state parsed from <c>edgeagent/v1/{id}/status</c>.</summary>
public sealed record DeviceStatusReport(
    bool Online,
    string? AgentVersion,
    string? ActiveModel,
    string? UpdateState,
    string? Health,
    string RawJson,
    DateTimeOffset ReceivedAt);

/// <summary>A telemetry event as stored (identity: device, boot, seq).</summary>
/// <param name="Data">UTF-8 JSON payload, or null when <see cref="Bin"/> is set.</param>
public sealed record StoredEvent(
    string DeviceId,
    string BootId,
    long Seq,
    string Stream,
    string Kind,
    DateTimeOffset Ts,
    int Prio,
    string? Data,
    byte[]? Bin);

/// <summary>A known gap: the device dropped these events (from a tombstone).</summary>
public sealed record TelemetryGap(
    string DeviceId,
    string BootId,
    string Stream,
    long FromSeq,
    long ToSeq,
    long Count,
    string Reason,
    DateTimeOffset RecordedAt);

/// <summary>One device's drift sketch window (one KLL float sketch) for a model/version/feature on a day.</summary>
public sealed record DriftWindowRecord(
    string DeviceId,
    string BootId,
    long Seq,
    string Model,
    string ModelVersion,
    string Feature,
    DateOnly Day,
    byte[] Sketch);

/// <summary>A message the hub could not use, kept with the reason so nothing is lost.</summary>
public sealed record RejectedMessage(long Id, DateTimeOffset At, string Topic, string Reason, byte[] Payload);

/// <summary>A registered model version: the ONNX bytes and the manifest part as uploaded.</summary>
public sealed record ModelRecord(
    string Name,
    string Version,
    long SizeBytes,
    string Sha256,
    string Contract,
    byte[] Manifest,
    byte[]? ReferenceProfile,
    string RegisteredBy,
    DateTimeOffset RegisteredAt);

/// <summary>A window the device was unsure about, with its local answer and the cloud's (for labeling).</summary>
/// <param name="CloudLabel">Null when the hub answered with an error (<paramref name="Error"/>).</param>
/// <param name="RequestJson">The request body as received (the window's input, shape, channels, local probabilities).</param>
public sealed record HardCaseRecord(
    long Id,
    DateTimeOffset At,
    string DeviceId,
    string Model,
    long Window,
    DateTimeOffset WindowEnd,
    string Reason,
    string LocalLabel,
    double LocalConfidence,
    string? CloudLabel,
    double? CloudConfidence,
    string? CloudModel,
    string? Error,
    string RequestJson);

/// <summary>Result of storing one telemetry batch.</summary>
/// <param name="Inserted">Events written now (the rest were already stored: duplicates).</param>
/// <param name="GapsRecorded">New gap rows.</param>
public readonly record struct TelemetryWriteResult(int Inserted, int GapsRecorded);

/// <summary>A store refused an operation for a reason the operator can act on.</summary>
public sealed class HubStoreException(string message, Exception? inner = null) : Exception(message, inner);
