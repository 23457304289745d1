using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Queue;

/// <summary>How an event's payload is encoded.</summary>
public enum PayloadFormat : byte
{
    /// <summary>One UTF-8 JSON value; embedded as is in the batch <c>data</c> field. Validated on append.</summary>
    Json = 0,

    /// <summary>Opaque bytes (e.g. a KLL sketch); base64 in the batch <c>bin</c> field.</summary>
    Binary = 1,
}

/// <summary>An event to append to the outbox.</summary>
/// <param name="Stream">Queue it belongs to; decides the MQTT topic and whether it may be dropped.</param>
/// <param name="Payload">Copied by the outbox on append; the caller may reuse its buffer afterwards.</param>
/// <param name="Format">Encoding of <paramref name="Payload"/>.</param>
/// <param name="Priority">0 (default) .. 255; carried on the wire for the hub. It does not reorder events: order per stream is fixed, and streams are served in the order update, drift, fallback-case, telemetry.</param>
/// <param name="Timestamp">When it happened; null = now (the outbox's <see cref="TimeProvider"/>).</param>
/// <param name="MergeKey">Drift windows only: windows with the same key (e.g. "model/feature") may be merged under disk pressure.</param>
public readonly record struct OutboxEvent(
    TelemetryStream Stream,
    ReadOnlyMemory<byte> Payload,
    PayloadFormat Format = PayloadFormat.Json,
    byte Priority = 0,
    DateTimeOffset? Timestamp = null,
    string? MergeKey = null);

/// <summary>Outcome of an append, known once the group commit containing it returned.</summary>
/// <param name="BootId">Boot the event was numbered under.</param>
/// <param name="Seq">Its sequence number in that boot.</param>
/// <param name="Stored">
/// False when the event was a droppable telemetry/fallback event that could not be stored because
/// the budget was exhausted by events that are never dropped; a tombstone records its seq.
/// </param>
public readonly record struct OutboxReceipt(string BootId, long Seq, bool Stored);

/// <summary>Raised after each commit that stored appended events: seqs <see cref="FirstSeq"/>..<see cref="LastSeq"/> of boot <see cref="BootId"/> (all streams) are durable.</summary>
/// <remarks>Seqs inside the range that were not stored (see <see cref="OutboxReceipt.Stored"/>) are counted in <see cref="DroppedOnAppend"/>.</remarks>
public readonly record struct CommittedRange(string BootId, long FirstSeq, long LastSeq, int DroppedOnAppend);
