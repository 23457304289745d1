using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeAgent.Hub.Rollouts;

/// <summary>Body of <c>POST /api/v1/rollouts</c>. Omitted parts take the defaults (Rollouts/README.md).</summary>
/// <param name="Id">Optional; generated as <c>FAMILY-VERSION-xxxxxx</c> when omitted.</param>
/// <param name="Cohort">Device labels that must all match (omitted = every device).</param>
/// <param name="Steps">Canary steps; default 5, 25, 50, 100 percent, 600 s bake, 1 device each.</param>
public sealed record CreateRolloutRequest(
    string? Family,
    string? Version,
    Dictionary<string, string>? Cohort = null,
    List<RolloutStep>? Steps = null,
    RolloutThresholds? Thresholds = null,
    string? Id = null);

/// <summary>Optional body of promote/pause/resume/abort.</summary>
public sealed record RolloutActionRequest(string? Reason);

/// <summary>A rollout in a list.</summary>
/// <param name="Percent">Share of the cohort of the current step.</param>
public sealed record RolloutSummaryView(
    string Id, string Family, string Version, long ReleaseCounter, string State, int Step, int Steps, double Percent,
    string? Reason, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt)
{
    public static RolloutSummaryView From(RolloutRecord r) => new(r.Id, r.Family, r.Version, r.ReleaseCounter, r.State.Wire(), r.StepIndex + 1,
        r.Steps.Count, r.Steps[Math.Min(r.StepIndex, r.Steps.Count - 1)].Percent, r.Reason, r.CreatedBy, r.CreatedAt, r.UpdatedAt, r.FinishedAt);
}

/// <summary>One step with its progress.</summary>
/// <param name="Status"><c>done</c>, <c>current</c> or <c>pending</c>.</param>
/// <param name="TargetDevices">Devices the step covers with the cohort as it is now.</param>
/// <param name="AssignedDevices">Devices assigned during this step.</param>
/// <param name="CommittedDevices">Of those, devices that committed the release.</param>
public sealed record RolloutStepView(int Step, double Percent, long BakeSeconds, int MinDevices, string Status, int TargetDevices,
    int AssignedDevices, int CommittedDevices, DateTimeOffset? StartedAt);

/// <summary>Everything about one rollout (<c>GET /api/v1/rollouts/{id}</c>).</summary>
/// <param name="Reason">Why it halted, was paused or aborted.</param>
/// <param name="WaitingFor">What the current step waits for before it passes (null when not running).</param>
/// <param name="DeviceStates">Devices per state: pending, downloading…observing, committed, refused, rolled-back, reverted, and retrying (the device refused its copy of the bundle — corrupted, cut or no disk space — not the release, and tries again).</param>
/// <param name="Unpublished">Device assignments decided but not yet published (signed).</param>
public sealed record RolloutDetailView(
    string Id, string Family, string Version, long ReleaseCounter, string Target, string State, int Step, string? Reason, string? WaitingFor,
    IReadOnlyDictionary<string, string> Cohort, int CohortSize, IReadOnlyList<RolloutStepView> Steps, RolloutThresholds Thresholds,
    RolloutHealth Health, IReadOnlyDictionary<string, int> DeviceStates, int Unpublished, IReadOnlyList<RolloutDeviceProgress> Devices,
    IReadOnlyList<RolloutEventRecord> History, string CreatedBy, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt);

/// <summary>One update transition of a device (<c>GET /api/v1/devices/{id}/updates</c>).</summary>
public sealed record DeviceUpdateView(string BootId, long Seq, string Family, string Version, long ReleaseCounter, string From, string To,
    string? Reason, string? Code, JsonElement? Metrics, DateTimeOffset At)
{
    public static DeviceUpdateView Of(DeviceUpdateEvent e)
    {
        JsonElement? metrics = null;
        if (e.Metrics is not null)
        {
            using var doc = JsonDocument.Parse(e.Metrics);
            metrics = doc.RootElement.Clone();
        }
        return new(e.BootId, e.Seq, e.Family, e.Version, e.ReleaseCounter, e.From, e.To, e.Reason, e.Code, metrics, e.At);
    }
}

/// <summary>Source-generated JSON (camelCase) for rollout storage columns and the rollout API.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(List<RolloutStep>))]
[JsonSerializable(typeof(RolloutThresholds))]
[JsonSerializable(typeof(CreateRolloutRequest))]
[JsonSerializable(typeof(RolloutActionRequest))]
[JsonSerializable(typeof(RolloutSummaryView))]
[JsonSerializable(typeof(List<RolloutSummaryView>))]
[JsonSerializable(typeof(RolloutDetailView))]
[JsonSerializable(typeof(List<DeviceUpdateView>))]
public sealed partial class RolloutJsonContext : JsonSerializerContext
{
    /// <summary>For API responses and CLI output: readable quotes and non-ASCII in messages (bodies are JSON, never HTML).</summary>
    public static RolloutJsonContext Api { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        PropertyNameCaseInsensitive = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
