using System.Buffers;
using System.IO.Compression;
using System.Text.Json;

namespace EdgeAgent.Telemetry.Wire;

/// <summary>An event as the encoder needs it. <see cref="Payload"/> is UTF-8 JSON when <see cref="PayloadIsJson"/>.</summary>
public readonly record struct WireEvent(
    long Seq,
    DateTimeOffset Timestamp,
    byte Priority,
    TelemetryEventKind Kind,
    ReadOnlyMemory<byte> Payload,
    bool PayloadIsJson,
    string? MergeKey = null,
    long? MergedFromSeq = null,
    int MergedCount = 0);

/// <summary>An encoded batch ready to publish. The payload array is owned by the caller.</summary>
public sealed record EncodedBatch(byte[] Payload, string ContentType, int JsonLength)
{
    public bool Gzipped => ContentType == TelemetryWire.ContentTypeGzipJson;
}

/// <summary>
/// Writes <see cref="TelemetryBatch"/> JSON with <see cref="Utf8JsonWriter"/> (no reflection) and
/// gzips it when that saves at least 10 % and the JSON is at least <see cref="GzipThresholdBytes"/>.
/// </summary>
/// <remarks>Not thread-safe: it reuses its buffers. One instance per drainer.</remarks>
public sealed class TelemetryBatchEncoder
{
    private readonly ArrayBufferWriter<byte> _json = new(64 * 1024);
    private readonly MemoryStream _gzip = new();
    private Utf8JsonWriter? _writer;

    /// <summary>JSON smaller than this is sent as is: gzip headers would eat the gain.</summary>
    public int GzipThresholdBytes { get; init; } = 512;

    /// <summary>
    /// Encodes events (which must be in ascending seq order, of one stream and boot). JSON payloads
    /// are embedded verbatim: the outbox validated them when they were appended.
    /// </summary>
    public EncodedBatch Encode(string deviceId, TelemetryStream stream, string bootId, IReadOnlyList<WireEvent> events, DateTimeOffset sentAt, int epoch = 0)
    {
        if (events.Count == 0) throw new ArgumentException("a batch needs at least one event", nameof(events));
        _json.ResetWrittenCount();
        var w = _writer ??= new Utf8JsonWriter(_json, new JsonWriterOptions { SkipValidation = true });
        w.Reset(_json);
        w.WriteStartObject();
        w.WriteString("schema"u8, TelemetryWire.Schema);
        w.WriteString("deviceId"u8, deviceId);
        w.WriteString("stream"u8, TelemetryStreams.WireName(stream));
        w.WriteString("bootId"u8, bootId);
        w.WriteNumber("epoch"u8, epoch);
        w.WriteNumber("firstSeq"u8, events[0].Seq);
        w.WriteNumber("lastSeq"u8, events[^1].Seq);
        w.WriteNumber("count"u8, events.Count);
        w.WriteString("sentAt"u8, sentAt.UtcDateTime);
        w.WriteStartArray("events"u8);
        foreach (var e in events)
        {
            w.WriteStartObject();
            w.WriteNumber("seq"u8, e.Seq);
            w.WriteString("ts"u8, e.Timestamp.UtcDateTime);
            w.WriteNumber("prio"u8, e.Priority);
            w.WriteString("kind"u8, TelemetryEventKinds.WireName(e.Kind));
            if (e.MergeKey is not null) w.WriteString("key"u8, e.MergeKey);
            if (e.MergedFromSeq is { } from)
            {
                w.WriteNumber("mergedFromSeq"u8, from);
                w.WriteNumber("mergedCount"u8, e.MergedCount);
            }
            if (e.PayloadIsJson)
            {
                w.WritePropertyName("data"u8);
                w.WriteRawValue(e.Payload.Span, skipInputValidation: true);
            }
            else
            {
                w.WriteBase64String("bin"u8, e.Payload.Span);
            }
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
        w.Flush();

        var json = _json.WrittenSpan;
        if (json.Length >= GzipThresholdBytes)
        {
            _gzip.SetLength(0);
            using (var gz = new GZipStream(_gzip, CompressionLevel.Fastest, leaveOpen: true))
            {
                gz.Write(json);
            }
            if (_gzip.Length <= json.Length * 9L / 10)
                return new EncodedBatch(_gzip.ToArray(), TelemetryWire.ContentTypeGzipJson, json.Length);
        }
        return new EncodedBatch(json.ToArray(), TelemetryWire.ContentTypeJson, json.Length);
    }
}
