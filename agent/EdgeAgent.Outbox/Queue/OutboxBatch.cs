using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Queue;

/// <summary>Identity of a stored row: its local id plus the (boot, seq) that travels, so a delete
/// can never hit a different row that reused the id.</summary>
internal readonly record struct RowRef(long Id, long Boot, long Seq);

/// <summary>
/// Consecutive events of one stream and boot read for publishing. Rows stay in the database until
/// <see cref="TelemetryOutbox.AcknowledgeAsync"/> (after PUBACK).
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
    long RejectedAppends);

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
