using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeAgent.Telemetry.Wire;

/// <summary>
/// One MQTT message on <c>edgeagent/v1/{deviceId}/{telemetry|drift|update}</c>: consecutive events
/// of one stream written under one boot, in seq order. Format version <see cref="TelemetryWire.Schema"/>;
/// documented in this project's README.md.
/// </summary>
public sealed record TelemetryBatch
{
    public required string Schema { get; init; }
    public required string DeviceId { get; init; }
    public required string Stream { get; init; }
    public required string BootId { get; init; }

    /// <summary>
    /// Sequence epoch within the boot (0 at process start, +1 each time the device reconnects after
    /// an outage). Seqs stay unique per boot; the epoch only tells the hub which in-order sub-sequence
    /// the batch belongs to, because the device sends the newest epoch (live) before older ones (backlog).
    /// </summary>
    public int Epoch { get; init; }

    public required long FirstSeq { get; init; }
    public required long LastSeq { get; init; }
    public required int Count { get; init; }
    public required DateTimeOffset SentAt { get; init; }
    public required IReadOnlyList<TelemetryEvent> Events { get; init; }

    /// <summary>The parsed <see cref="Stream"/>; valid after <see cref="TelemetryBatchDecoder"/> accepted the batch.</summary>
    [JsonIgnore]
    public TelemetryStream StreamValue => TelemetryStreams.TryParse(Stream, out var s)
        ? s : throw new TelemetryFormatException($"unknown stream '{Stream}'");
}

/// <summary>One event of a <see cref="TelemetryBatch"/>. Exactly one of <see cref="Data"/> and <see cref="Bin"/> is present.</summary>
public sealed record TelemetryEvent
{
    public required long Seq { get; init; }
    public required DateTimeOffset Ts { get; init; }
    public int Prio { get; init; }
    public required string Kind { get; init; }

    /// <summary>Drift windows: the model/feature key whose windows may be merged.</summary>
    public string? Key { get; init; }

    /// <summary>Set when the device merged older drift windows into this one: lowest seq merged in.</summary>
    public long? MergedFromSeq { get; init; }

    /// <summary>Set when the device merged older drift windows into this one: how many windows it stands for.</summary>
    public int? MergedCount { get; init; }

    /// <summary>JSON payload (as written by the device application).</summary>
    public JsonElement? Data { get; init; }

    /// <summary>Binary payload (e.g. a KLL sketch), base64 on the wire.</summary>
    public byte[]? Bin { get; init; }

    [JsonIgnore]
    public TelemetryEventKind KindValue => TelemetryEventKinds.TryParse(Kind, out var k)
        ? k : throw new TelemetryFormatException($"unknown event kind '{Kind}'");
}

/// <summary>Constants of the wire contract.</summary>
public static class TelemetryWire
{
    /// <summary>Value of the batch <c>schema</c> field. A hub refuses schemas it does not know.</summary>
    public const string Schema = "edgeagent.telemetry.batch/1";

    /// <summary>MQTT 5 content type of an uncompressed batch.</summary>
    public const string ContentTypeJson = "application/json";

    /// <summary>
    /// MQTT 5 content type of a gzip-compressed batch (RFC 1952). Decoders also recognise gzip by its
    /// magic bytes 1F 8B (a JSON document cannot start with them), so MQTT 3.1.1 peers work too.
    /// </summary>
    public const string ContentTypeGzipJson = "application/json+gzip";

    /// <summary>Largest decompressed batch a decoder accepts (protects the hub against gzip bombs).</summary>
    public const int MaxDecodedBytes = 16 * 1024 * 1024;

    /// <summary>Formats a 16-byte boot id the way it travels: 32 lowercase hex digits.</summary>
    public static string FormatBootId(ReadOnlySpan<byte> bootId) => Convert.ToHexStringLower(bootId);

    /// <summary>True when <paramref name="bootId"/> is 32 lowercase hex digits.</summary>
    public static bool IsValidBootId(string? bootId)
    {
        if (bootId is null || bootId.Length != 32) return false;
        foreach (var c in bootId)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f')) return false;
        }
        return true;
    }
}

/// <summary>A batch that violates the wire contract. The message names the first problem found.</summary>
public sealed class TelemetryFormatException(string message, Exception? inner = null)
    : Exception($"telemetry batch rejected: {message}", inner);
