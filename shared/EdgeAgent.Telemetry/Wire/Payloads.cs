using System.Text.Json.Serialization;

namespace EdgeAgent.Telemetry.Wire;

/// <summary>
/// Payload of a <see cref="TelemetryEventKind.Tombstone"/> event: the outbox dropped
/// <see cref="Count"/> events of <see cref="Stream"/> written under <see cref="BootId"/>, and every
/// event of that stream and boot with <see cref="FromSeq"/> ≤ seq ≤ <see cref="ToSeq"/> was among
/// them (seqs of other streams inside the range are not affected).
/// </summary>
/// <remarks>
/// "Dropped" means removed from the device's outbox. An event that was in flight at that moment may
/// still have reached the hub; the hub computes real loss as the range minus what it received.
/// </remarks>
public sealed record TombstonePayload(
    string Stream,
    string BootId,
    long FromSeq,
    long ToSeq,
    long Count,
    string Reason);

/// <summary>Payload of a <see cref="TelemetryEventKind.Notice"/> event.</summary>
/// <param name="Code">Stable machine code, e.g. <c>outbox.quarantined</c>.</param>
/// <param name="Message">Operator-readable sentence.</param>
/// <param name="Path">File involved, if any (e.g. where the corrupt database was moved).</param>
public sealed record OutboxNoticePayload(
    string Code,
    string Message,
    string? Path = null);

/// <summary>Source-generated JSON metadata for the wire contract (no reflection: AOT-safe).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(TombstonePayload))]
[JsonSerializable(typeof(OutboxNoticePayload))]
[JsonSerializable(typeof(TelemetryBatch))]
public sealed partial class TelemetryJsonContext : JsonSerializerContext;
