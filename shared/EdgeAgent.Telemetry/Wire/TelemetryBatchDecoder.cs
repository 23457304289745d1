using System.IO.Compression;
using System.Text.Json;

namespace EdgeAgent.Telemetry.Wire;

/// <summary>
/// Hub side: parses and validates one batch message (plain or gzip JSON). Thread-safe (stateless).
/// Every contract violation becomes a <see cref="TelemetryFormatException"/> naming the problem, so
/// the hub can log it and park the message instead of crashing its consumer.
/// </summary>
public static class TelemetryBatchDecoder
{
    public static TelemetryBatch Decode(ReadOnlySpan<byte> message)
    {
        if (message.IsEmpty) throw new TelemetryFormatException("empty message");
        byte[]? inflated = null;
        if (message.Length >= 2 && message[0] == 0x1F && message[1] == 0x8B)
        {
            inflated = Inflate(message);
            message = inflated;
        }
        TelemetryBatch? batch;
        try
        {
            batch = JsonSerializer.Deserialize(message, TelemetryJsonContext.Default.TelemetryBatch);
        }
        catch (JsonException ex)
        {
            throw new TelemetryFormatException($"not valid batch JSON ({ex.Message})", ex);
        }
        if (batch is null) throw new TelemetryFormatException("JSON null instead of a batch object");
        Validate(batch);
        return batch;
    }

    private static byte[] Inflate(ReadOnlySpan<byte> gz)
    {
        try
        {
            using var input = new MemoryStream(gz.ToArray());
            using var zip = new GZipStream(input, CompressionMode.Decompress);
            using var output = new MemoryStream();
            var buffer = new byte[81920];
            int n;
            while ((n = zip.Read(buffer)) > 0)
            {
                if (output.Length + n > TelemetryWire.MaxDecodedBytes)
                    throw new TelemetryFormatException($"decompressed batch exceeds {TelemetryWire.MaxDecodedBytes} bytes");
                output.Write(buffer, 0, n);
            }
            return output.ToArray();
        }
        catch (InvalidDataException ex)
        {
            throw new TelemetryFormatException($"corrupt gzip stream ({ex.Message})", ex);
        }
    }

    private static void Validate(TelemetryBatch b)
    {
        if (b.Schema != TelemetryWire.Schema)
            throw new TelemetryFormatException($"unknown schema '{b.Schema}', expected '{TelemetryWire.Schema}'");
        TelemetryStreams.ValidateDeviceIdForWire(b.DeviceId);
        if (!TelemetryStreams.TryParse(b.Stream, out _))
            throw new TelemetryFormatException($"unknown stream '{b.Stream}'");
        if (!TelemetryWire.IsValidBootId(b.BootId))
            throw new TelemetryFormatException($"bootId '{b.BootId}' is not 32 lowercase hex digits");
        if (b.Epoch < 0) throw new TelemetryFormatException($"epoch {b.Epoch} is negative");
        if (b.Events.Count == 0) throw new TelemetryFormatException("batch has no events");
        if (b.Count != b.Events.Count)
            throw new TelemetryFormatException($"count {b.Count} does not match {b.Events.Count} events");
        long previous = 0;
        foreach (var e in b.Events)
        {
            if (e.Seq <= previous)
                throw new TelemetryFormatException($"seq {e.Seq} does not follow {previous}: seqs must be positive and strictly increasing");
            previous = e.Seq;
            if (!TelemetryEventKinds.TryParse(e.Kind, out _))
                throw new TelemetryFormatException($"event seq {e.Seq} has unknown kind '{e.Kind}'");
            if ((e.Data is null) == (e.Bin is null))
                throw new TelemetryFormatException($"event seq {e.Seq} must carry exactly one of 'data' and 'bin'");
            if (e.MergedFromSeq is { } from && (from > e.Seq || e.MergedCount is null or < 2))
                throw new TelemetryFormatException($"event seq {e.Seq} has inconsistent merge fields");
        }
        if (b.FirstSeq != b.Events[0].Seq || b.LastSeq != b.Events[^1].Seq)
            throw new TelemetryFormatException($"firstSeq/lastSeq {b.FirstSeq}..{b.LastSeq} do not match the events");
    }
}
