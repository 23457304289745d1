using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeAgent.Hub.Drift;
using EdgeAgent.Hub.Models;
using EdgeAgent.Hub.Storage;

namespace EdgeAgent.Hub.Api;

/// <summary>Error body of every refused API call: one sentence the operator can act on.</summary>
public sealed record ApiError(string Error);

public sealed record CreateDeviceRequest(string Id, Dictionary<string, string>? Labels);

public sealed record DeviceView(string Id, IReadOnlyDictionary<string, string> Labels, DateTimeOffset CreatedAt, bool? Online,
    string? AgentVersion, string? ActiveModel, string? UpdateState, string? Health, DateTimeOffset? StatusAt, DateTimeOffset? RevokedAt = null)
{
    public static DeviceView From(DeviceRecord d) => new(d.Id, d.Labels, d.CreatedAt, d.Online, d.AgentVersion, d.ActiveModel, d.UpdateState, d.Health, d.StatusAt, d.RevokedAt);
}

/// <summary>A cloud-tier hard case for labeling; <see cref="Request"/> is the device's request body as received.</summary>
public sealed record HardCaseView(long Id, DateTimeOffset At, string DeviceId, string Model, long Window, DateTimeOffset WindowEnd, string Reason,
    string LocalLabel, double LocalConfidence, string? CloudLabel, double? CloudConfidence, string? CloudModel, string? Error, JsonElement Request)
{
    public static HardCaseView From(HardCaseRecord h) => new(h.Id, h.At, h.DeviceId, h.Model, h.Window, h.WindowEnd, h.Reason, h.LocalLabel,
        h.LocalConfidence, h.CloudLabel, h.CloudConfidence, h.CloudModel, h.Error, JsonDocument.Parse(h.RequestJson).RootElement.Clone());
}

public sealed record EventView(string BootId, long Seq, string Stream, string Kind, DateTimeOffset Ts, int Prio, JsonElement? Data, byte[]? Bin);

public sealed record RetentionRequest(int OlderThanDays);

public sealed record RetentionResult(long DeletedEvents, DateTimeOffset Cutoff);

public sealed record CreateTokenRequest(string Name, string Role);

public sealed record TokenView(string Id, string Name, string Role, DateTimeOffset CreatedAt, string? Token = null);

public sealed record ModelView(string Name, string Version, long SizeBytes, string Sha256, string Contract, bool HasReferenceProfile, string RegisteredBy, DateTimeOffset RegisteredAt)
{
    public static ModelView From(ModelRecord m) => new(m.Name, m.Version, m.SizeBytes, m.Sha256, m.Contract, m.ReferenceProfile is not null, m.RegisteredBy, m.RegisteredAt);
}

public sealed record RejectedView(long Id, DateTimeOffset At, string Topic, string Reason, int PayloadBytes);

public sealed record HealthView(string Status, string Store, string Mqtt);

/// <summary>Source-generated JSON metadata for everything the hub reads or writes as JSON.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(ApiError))]
[JsonSerializable(typeof(CreateDeviceRequest))]
[JsonSerializable(typeof(DeviceView))]
[JsonSerializable(typeof(List<DeviceView>))]
[JsonSerializable(typeof(List<EventView>))]
[JsonSerializable(typeof(List<TelemetryGap>))]
[JsonSerializable(typeof(RetentionRequest))]
[JsonSerializable(typeof(RetentionResult))]
[JsonSerializable(typeof(CreateTokenRequest))]
[JsonSerializable(typeof(TokenView))]
[JsonSerializable(typeof(List<TokenView>))]
[JsonSerializable(typeof(List<AuditEntry>))]
[JsonSerializable(typeof(ModelView))]
[JsonSerializable(typeof(List<ModelView>))]
[JsonSerializable(typeof(List<RejectedView>))]
[JsonSerializable(typeof(FleetDrift))]
[JsonSerializable(typeof(HealthView))]
[JsonSerializable(typeof(List<HardCaseView>))]
public sealed partial class HubJsonContext : JsonSerializerContext
{
    /// <summary>
    /// For API responses: like <see cref="Default"/> but without escaping quotes and non-ASCII, so error
    /// messages read as written ("device 'x'", not "device \u0027x\u0027"). Bodies are application/json, never HTML.
    /// </summary>
    public static HubJsonContext Api { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        PropertyNameCaseInsensitive = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
