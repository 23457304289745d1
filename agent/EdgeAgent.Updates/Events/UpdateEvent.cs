using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeAgent.Updates.Events;

/// <summary>
/// One transition of the update state machine, reported to the hub through the outbox
/// (topic <c>edgeagent/v1/{id}/update</c>). Small: names, versions, a reason, a few figures.
/// </summary>
/// <param name="Family">Model family.</param>
/// <param name="Version">Release being installed (or the one rolled back to for <c>rolled-back</c>).</param>
/// <param name="ReleaseCounter">Its release counter.</param>
/// <param name="From">Phase left (kebab-case, e.g. <c>downloading</c>).</param>
/// <param name="To">Phase entered.</param>
/// <param name="Reason">Operator-readable why (refusals, rollbacks), or null.</param>
/// <param name="Metrics">Figures of the step (bytes, p99 ms, agreement...), or null.</param>
/// <param name="At">Wall time of the transition.</param>
/// <param name="Code">Stable refusal/rollback code (<see cref="UpdateRefusal"/> name) for dashboards, or null.</param>
public sealed record UpdateEvent(
    string Family,
    string Version,
    long ReleaseCounter,
    string From,
    string To,
    string? Reason,
    Dictionary<string, double>? Metrics,
    DateTimeOffset At,
    string? Code = null)
{
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, UpdatesJsonContext.Default.UpdateEvent);
}

/// <summary>
/// Receives every transition. The agent connects it to the telemetry outbox. Implementations must
/// be thread safe and should not block; an exception from <see cref="PublishAsync"/> is logged by
/// nobody here and is allowed to propagate: the state is already persisted, so a retry after a
/// restart resumes at the same step.
/// </summary>
public interface IUpdateEventSink
{
    ValueTask PublishAsync(UpdateEvent update, CancellationToken cancellationToken);
}

/// <summary>Keeps events in memory (diagnostics, <c>edgeagent status</c>, tests). Thread safe.</summary>
public sealed class UpdateEventLog : IUpdateEventSink
{
    private readonly Lock _gate = new();
    private readonly List<UpdateEvent> _events = [];

    public IReadOnlyList<UpdateEvent> Events
    {
        get { lock (_gate) return _events.ToArray(); }
    }

    public ValueTask PublishAsync(UpdateEvent update, CancellationToken cancellationToken)
    {
        lock (_gate) _events.Add(update);
        return ValueTask.CompletedTask;
    }
}
