using EdgeAgent.Hub.Rollouts;

namespace EdgeAgent.Hub.Storage;

public partial interface IHubStore
{
    /// <summary>
    /// Writes what a batch of MQTT messages carries, all of it in ONE transaction: each item's events and gaps
    /// (as <see cref="StoreTelemetryAsync"/>), drift windows (as <see cref="StoreDriftWindowsAsync"/>), update
    /// transitions (as <see cref="StoreUpdateEventsAsync"/>) and parked messages (as
    /// <see cref="RecordRejectedMessageAsync"/>). Either all of it is durable when the call returns or, when it
    /// throws, none of it is, so the caller may acknowledge every message of the batch only after it returned, and
    /// a redelivery after a failure parks nothing twice. Rows already stored are skipped (idempotent).
    /// Returns one <see cref="IngestItemWritten"/> per item, in order. Thread-safe.
    /// </summary>
    Task<IReadOnlyList<IngestItemWritten>> StoreIngestBatchAsync(IReadOnlyList<IngestBatchItem> items, DateTimeOffset receivedAt, CancellationToken ct = default);
}

/// <summary>A message parked in <c>rejected_messages</c> (the payload is kept byte-exact for an operator).</summary>
public sealed record RejectedMessageWrite(string Topic, string Reason, ReadOnlyMemory<byte> Payload, DateTimeOffset At);

/// <summary>One MQTT message's share of <see cref="IHubStore.StoreIngestBatchAsync"/>; any list may be empty.</summary>
public sealed record IngestBatchItem(
    IReadOnlyList<StoredEvent> Events,
    IReadOnlyList<TelemetryGap> Gaps,
    IReadOnlyList<DriftWindowRecord> DriftWindows,
    IReadOnlyList<DeviceUpdateEvent> Updates,
    IReadOnlyList<RejectedMessageWrite> Rejections)
{
    /// <summary>A message that carries nothing but its own rejection.</summary>
    public static IngestBatchItem Parked(RejectedMessageWrite rejection) => new([], [], [], [], [rejection]);
}

/// <summary>What one item of a batch added: rows new to the store (already stored ones are not counted).</summary>
public sealed record IngestItemWritten(int Inserted, int GapsRecorded, int DriftWindows, int UpdateEvents);
