using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Queue;

/// <summary>Identity of a stored row: its local id plus the (boot, seq) that travels, so a delete
/// can never hit a different row that reused the id.</summary>
internal readonly record struct RowRef(long Id, long Boot, long Seq);

/// <summary>
/// Consecutive events of one stream and boot read for publishing. Rows stay in the database until
/// <see cref="TelemetryOutbox.DeletePublishedAsync"/> (after PUBACK) or, in hub-ack mode, until the hub's
/// end-to-end ack (<see cref="TelemetryOutbox.AcknowledgeAsync(EdgeAgent.Telemetry.Acks.TelemetryAck, CancellationToken)"/>).
/// </summary>
internal sealed record OutboxBatch(
    TelemetryStream Stream,
    string BootId,
    int Epoch,
    bool Live,
    RowRef[] Rows,
    WireEvent[] Events,
    int PayloadBytes);

/// <summary>Depth and size of the outbox, for metrics, <c>edgeagent telemetry</c> and <c>doctor</c>.</summary>
public sealed record OutboxStatistics(
    string BootId,
    IReadOnlyDictionary<TelemetryStream, long> PendingEvents,
    long DatabaseFileBytes,
    long WalFileBytes,
    long BudgetBytes,
    long AppendedEvents,
    long DroppedEvents,
    long TombstonesWritten,
    long MergedWindows,
    long DiskFullErrors,
    long RejectedAppends)
{
    /// <summary>Events the broker acknowledged that wait for the hub's end-to-end ack, per stream (a subset of <see cref="PendingEvents"/>: they are still stored).</summary>
    public IReadOnlyDictionary<TelemetryStream, long> AwaitingAckEvents { get; init; } = new Dictionary<TelemetryStream, long>();

    /// <summary>Batches waiting for the hub's ack.</summary>
    public long AwaitingAckBatches { get; init; }

    /// <summary>Hub acks applied since open.</summary>
    public long HubAcks { get; init; }

    /// <summary>Events deleted because the hub acknowledged them, since open.</summary>
    public long HubAckedEvents { get; init; }

    /// <summary>Events made pending again because their ack did not come in time or the link came back (sent again).</summary>
    public long RequeuedEvents { get; init; }

    /// <summary>Ack messages ignored, by reason (<c>unknown-boot</c> or a <see cref="EdgeAgent.Telemetry.Acks.TelemetryAckCodec.ReasonName"/>).</summary>
    public IReadOnlyDictionary<string, long> IgnoredAcks { get; init; } = new Dictionary<string, long>();
}

/// <summary>What <see cref="TelemetryOutbox.AcknowledgeAsync(EdgeAgent.Telemetry.Acks.TelemetryAck, CancellationToken)"/> did.</summary>
/// <param name="DeletedEvents">Rows deleted (0 when they were already gone: a repeated ack).</param>
/// <param name="Applied">False when the ack was ignored (malformed or for an unknown boot).</param>
public readonly record struct OutboxAckResult(long DeletedEvents, bool Applied);

/// <summary>Result of <see cref="TelemetryOutbox.CheckIntegrityAsync"/>.</summary>
/// <param name="DatabasePath">The checked file.</param>
/// <param name="Problems">Lines of <c>PRAGMA integrity_check</c> other than "ok" (at most 100).</param>
public sealed record OutboxIntegrityReport(string DatabasePath, IReadOnlyList<string> Problems)
{
    public bool IsOk => Problems.Count == 0;
}

/// <summary>What happened when the outbox opened its database.</summary>
/// <param name="QuarantinedTo">Where a corrupt database was moved, or null.</param>
/// <param name="QuarantineReason">Why it was judged corrupt, or null.</param>
/// <param name="BudgetBytes">Effective disk budget.</param>
public sealed record OutboxOpenReport(string? QuarantinedTo, string? QuarantineReason, long BudgetBytes);
