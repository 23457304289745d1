using System.Text.Json;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Pipeline.Inference;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.Updates.Events;
using EdgeAgent.Updates.Health;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Agent.Service;

/// <summary>
/// Reports every update transition: one structured log line, then the outbox stream
/// <see cref="TelemetryStream.Update"/> (drained to <c>edgeagent/v1/{id}/update</c>, never dropped), then the
/// loop's own status. Thread safe. An outbox failure propagates to the update manager, whose state is already
/// persisted (the step resumes after a restart).
/// </summary>
internal sealed class UpdateLoopEventSink(TelemetryOutbox outbox, ILogger log, Action<UpdateEvent> observed) : IUpdateEventSink
{
    public async ValueTask PublishAsync(UpdateEvent update, CancellationToken cancellationToken)
    {
        if (update.Code is null)
            log.LogInformation("Update {Family} {Version}: {From} -> {To}", update.Family, update.Version, update.From, update.To);
        else
            log.LogWarning("Update {Family} {Version}: {From} -> {To} ({Code}): {Reason}", update.Family, update.Version, update.From, update.To, update.Code, update.Reason);
        observed(update);
        await outbox.EnqueueAsync(new OutboxEvent(TelemetryStream.Update, update.ToJson(), Timestamp: update.At), cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// Feeds a family's <see cref="ModelHealthMonitor"/> from the live pipeline (<see cref="InferencePipelineOptions.InferenceObserver"/>).
/// Allocation-free per inference (the monitor's lock and counters only). A failed inference is counted; the
/// pipeline drops the window and keeps running only while a new model is on trial (its health window judges the
/// failures and rolls it back), otherwise the failure stops the pipeline as before.
/// </summary>
internal sealed class UpdateLoopHealthObserver(ModelHealthMonitor health, Func<bool> onTrial) : IInferenceObserver
{
    public void OnInference(ReadOnlySpan<float> input, ReadOnlySpan<float> probabilities, TimeSpan latency) =>
        health.Record(input, probabilities, latency);

    public bool OnInferenceFailed(Exception error)
    {
        health.RecordFailure();
        return onTrial();
    }
}

/// <summary>
/// How one update check ended. <c>Id</c> numbers checks (1, 2, …; requests that arrived while a check was queued
/// share its id); <c>Trigger</c> is what asked for it (<c>poll</c>, <c>fleet-hint</c>, <c>cmd</c>, <c>cli</c>);
/// <c>Result</c> is one of <c>up-to-date</c>, <c>updated</c>, <c>rolled-back</c>, <c>refused</c>, <c>interrupted</c>,
/// <c>no-assignment</c>, <c>assignment-refused</c>, <c>offline</c>, <c>failed</c>; <c>Detail</c> explains it for an
/// operator (refusal reason, network error) or is null; <c>Families</c> has one outcome per assigned family.
/// </summary>
public sealed record UpdateCheckResult(long Id, string Trigger, string Result, string? Detail, IReadOnlyList<UpdateFamilyOutcome> Families, DateTimeOffset At)
{
    /// <summary>The check reached the update server and nothing was refused or rolled back.</summary>
    public bool Succeeded => Result is "up-to-date" or "updated" or "no-assignment";

    internal void WriteTo(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("id", Id);
        w.WriteString("trigger", Trigger);
        w.WriteString("result", Result);
        if (Detail is not null) w.WriteString("detail", Detail);
        w.WriteString("at", At);
        w.WriteStartArray("families");
        foreach (var f in Families)
        {
            w.WriteStartObject();
            w.WriteString("family", f.Family);
            w.WriteString("target", f.Target);
            w.WriteString("phase", f.Phase);
            if (f.Version is not null) w.WriteString("version", f.Version);
            if (f.Reason is not null) w.WriteString("reason", f.Reason);
            if (f.Code is not null) w.WriteString("code", f.Code);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}

/// <summary>What one family's assigned release came to in a check (phase in wire form, e.g. <c>committed</c>).</summary>
public sealed record UpdateFamilyOutcome(string Family, string Target, string Phase, string? Version, string? Reason, string? Code);

/// <summary>
/// The update loop's state for <c>edgeagent update status</c>, the service's status and metrics. Immutable
/// snapshot; <see cref="UpdateLoop.Status"/> builds a new one per call. <c>State</c> is <c>starting</c>,
/// <c>idle</c>, <c>checking</c>, <c>applying</c> or <c>offline</c>; <c>Family</c>, <c>Phase</c> (wire form),
/// <c>Target</c> and <c>Version</c> describe the update being applied (null otherwise); the byte counts are set
/// while downloading.
/// </summary>
public sealed record UpdateLoopStatus(
    string State,
    string? Family,
    string? Phase,
    string? Target,
    string? Version,
    long? DownloadedBytes,
    long? TotalBytes,
    UpdateCheckResult? LastCheck,
    UpdateEvent? LastEvent,
    string? LastError,
    DateTimeOffset? NextCheckAt,
    long ChecksRequested,
    long ChecksCompleted)
{
    /// <summary>Download progress 0..1 while downloading, else null.</summary>
    public double? DownloadProgress => TotalBytes is > 0 && DownloadedBytes is { } d ? Math.Clamp((double)d / TotalBytes.Value, 0, 1) : null;

    internal void WriteTo(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("state", State);
        Optional(w, "family", Family);
        Optional(w, "phase", Phase);
        Optional(w, "target", Target);
        Optional(w, "version", Version);
        if (DownloadedBytes is { } d) w.WriteNumber("downloadedBytes", d);
        if (TotalBytes is { } t) w.WriteNumber("totalBytes", t);
        if (DownloadProgress is { } p) w.WriteNumber("downloadProgress", Math.Round(p, 4));
        w.WriteNumber("checksRequested", ChecksRequested);
        w.WriteNumber("checksCompleted", ChecksCompleted);
        if (NextCheckAt is { } next) w.WriteString("nextCheckAt", next);
        Optional(w, "lastError", LastError);
        if (LastCheck is { } c)
        {
            w.WritePropertyName("lastCheck");
            c.WriteTo(w);
        }
        if (LastEvent is { } e)
        {
            w.WritePropertyName("lastEvent");
            using var doc = JsonDocument.Parse(e.ToJson());
            doc.RootElement.WriteTo(w);
        }
        w.WriteEndObject();
    }

    private static void Optional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null) w.WriteNull(name);
        else w.WriteString(name, value);
    }
}
