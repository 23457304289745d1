using System.Text.Json;
using System.Text.Json.Serialization;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Telemetry.Acks;

/// <summary>
/// End-to-end acknowledgement (schema <see cref="TelemetryAckCodec.Schema"/>): the hub publishes it on
/// <c>edgeagent/v1/{deviceId}/ack</c> (QoS 1, not retained) after the events of a batch are durably
/// stored (or found to be duplicates). The device deletes exactly the acknowledged events from its
/// outbox. Until then a broker PUBACK only means "the broker has it", which a broker crash can undo
/// (docs/CHAOS.md, product bug 3).
/// </summary>
/// <remarks>
/// <see cref="Ranges"/> are inclusive seq ranges of <see cref="Stream"/> under <see cref="BootId"/>;
/// seqs of other streams inside a range are not meant (seqs are numbered across streams). Tombstones and
/// notices count like data events. Ranges are ascending and do not overlap or touch; every seq ≥ 1.
/// </remarks>
public sealed record TelemetryAck
{
    public required string Schema { get; init; }
    public required string BootId { get; init; }
    public required string Stream { get; init; }

    /// <summary>Epoch of the acknowledged batch (absent = 0). Informational for the device: a seq identifies an event within its boot.</summary>
    public int Epoch { get; init; }

    /// <summary>Inclusive [from, to] seq ranges, each a two-element array on the wire.</summary>
    public required IReadOnlyList<long[]> Ranges { get; init; }

    /// <summary>The parsed <see cref="Stream"/>; valid after <see cref="TelemetryAckCodec.TryDecode"/> accepted the message.</summary>
    [JsonIgnore]
    public TelemetryStream StreamValue => TelemetryStreams.TryParse(Stream, out var s)
        ? s : throw new TelemetryFormatException($"unknown stream '{Stream}'");

    /// <summary>True when <paramref name="seq"/> lies in one of <see cref="Ranges"/>.</summary>
    public bool Covers(long seq)
    {
        foreach (var r in Ranges)
        {
            if (seq >= r[0] && seq <= r[1]) return true;
        }
        return false;
    }

    /// <summary>Number of seqs the ranges span (an upper bound of the events they acknowledge).</summary>
    [JsonIgnore]
    public long SpannedSeqs => Ranges.Sum(r => r[1] - r[0] + 1);
}

/// <summary>Why an ack message was ignored; a stable name for counters (<see cref="TelemetryAckCodec.ReasonName"/>).</summary>
public enum AckRejectReason
{
    Empty,
    TooLarge,
    NotJson,
    UnknownSchema,
    BadBootId,
    UnknownStream,
    BadEpoch,
    NoRanges,
    TooManyRanges,
    BadRange,
}

/// <summary>An ack message that violates the contract: what to count and what to log.</summary>
public sealed record AckRejection(AckRejectReason Reason, string Message);

/// <summary>
/// Encodes and validates <see cref="TelemetryAck"/> messages. Stateless and thread-safe. Decoding
/// never throws for bad input: a device must survive any bytes on its ack topic.
/// </summary>
public static class TelemetryAckCodec
{
    /// <summary>Value of the ack <c>schema</c> field.</summary>
    public const string Schema = "edgeagent.ack/1";

    /// <summary>Largest ack message accepted (a batch needs one range; the hub may coalesce a few).</summary>
    public const int MaxMessageBytes = 64 * 1024;

    /// <summary>Most ranges in one ack.</summary>
    public const int MaxRanges = 1024;

    /// <summary>The ack for one batch the hub stored: one range, what the batch covered.</summary>
    public static TelemetryAck ForBatch(TelemetryBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        return new TelemetryAck
        {
            Schema = Schema,
            BootId = batch.BootId,
            Stream = batch.Stream,
            Epoch = batch.Epoch,
            Ranges = [[batch.FirstSeq, batch.LastSeq]],
        };
    }

    /// <summary>Serializes an ack (UTF-8 JSON). Throws <see cref="TelemetryFormatException"/> if it breaks the contract: a hub must not send what a device would ignore.</summary>
    public static byte[] Encode(TelemetryAck ack)
    {
        ArgumentNullException.ThrowIfNull(ack);
        if (Validate(ack) is { } problem) throw new TelemetryFormatException($"ack not sent: {problem.Message}");
        return JsonSerializer.SerializeToUtf8Bytes(ack, TelemetryAckJsonContext.Default.TelemetryAck);
    }

    /// <summary>Parses and validates an ack message; on failure returns false and says why.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> message, out TelemetryAck? ack, out AckRejection? rejection)
    {
        ack = null;
        rejection = null;
        if (message.IsEmpty) return Fail(AckRejectReason.Empty, "empty message", out rejection);
        if (message.Length > MaxMessageBytes)
            return Fail(AckRejectReason.TooLarge, $"{message.Length} bytes exceeds the {MaxMessageBytes}-byte limit", out rejection);
        TelemetryAck? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize(message, TelemetryAckJsonContext.Default.TelemetryAck);
        }
        catch (JsonException ex)
        {
            return Fail(AckRejectReason.NotJson, $"not valid ack JSON ({ex.Message})", out rejection);
        }
        if (parsed is null) return Fail(AckRejectReason.NotJson, "JSON null instead of an ack object", out rejection);
        if (Validate(parsed) is { } problem)
        {
            rejection = problem;
            return false;
        }
        ack = parsed;
        return true;
    }

    /// <summary>Stable lowercase name of a reason, for metrics labels.</summary>
    public static string ReasonName(AckRejectReason reason) => reason switch
    {
        AckRejectReason.Empty => "empty",
        AckRejectReason.TooLarge => "too-large",
        AckRejectReason.NotJson => "not-json",
        AckRejectReason.UnknownSchema => "unknown-schema",
        AckRejectReason.BadBootId => "bad-boot-id",
        AckRejectReason.UnknownStream => "unknown-stream",
        AckRejectReason.BadEpoch => "bad-epoch",
        AckRejectReason.NoRanges => "no-ranges",
        AckRejectReason.TooManyRanges => "too-many-ranges",
        AckRejectReason.BadRange => "bad-range",
        _ => "unknown",
    };

    private static AckRejection? Validate(TelemetryAck a)
    {
        if (a.Schema != Schema) return new(AckRejectReason.UnknownSchema, $"unknown schema '{a.Schema}', expected '{Schema}'");
        if (!TelemetryWire.IsValidBootId(a.BootId)) return new(AckRejectReason.BadBootId, $"bootId '{a.BootId}' is not 32 lowercase hex digits");
        if (!TelemetryStreams.TryParse(a.Stream, out _)) return new(AckRejectReason.UnknownStream, $"unknown stream '{a.Stream}'");
        if (a.Epoch < 0) return new(AckRejectReason.BadEpoch, $"epoch {a.Epoch} is negative");
        if (a.Ranges is null || a.Ranges.Count == 0) return new(AckRejectReason.NoRanges, "ack has no ranges");
        if (a.Ranges.Count > MaxRanges) return new(AckRejectReason.TooManyRanges, $"{a.Ranges.Count} ranges, at most {MaxRanges}");
        long previousTo = 0;
        for (var i = 0; i < a.Ranges.Count; i++)
        {
            var r = a.Ranges[i];
            if (r is null || r.Length != 2) return new(AckRejectReason.BadRange, $"range {i} is not a [from, to] pair");
            if (r[0] < 1 || r[1] < r[0]) return new(AckRejectReason.BadRange, $"range {i} [{r[0]}, {r[1]}] needs 1 ≤ from ≤ to");
            // Ascending and apart (a touching pair would be one range): one canonical form, so two
            // hubs' acks compare equal and a device can apply ranges in one ordered pass.
            if (i > 0 && r[0] <= previousTo + 1)
                return new(AckRejectReason.BadRange, $"range {i} [{r[0]}, {r[1]}] overlaps or touches the previous one (ending at {previousTo}); ranges must ascend");
            previousTo = r[1];
        }
        return null;
    }

    private static bool Fail(AckRejectReason reason, string message, out AckRejection rejection)
    {
        rejection = new AckRejection(reason, message);
        return false;
    }
}

/// <summary>Source-generated JSON metadata for acks (AOT-safe).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(TelemetryAck))]
internal sealed partial class TelemetryAckJsonContext : JsonSerializerContext;
