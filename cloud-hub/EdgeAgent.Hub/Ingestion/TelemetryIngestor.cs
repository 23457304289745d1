using System.Globalization;
using System.Text.Json;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Telemetry.Dedup;
using EdgeAgent.Telemetry.Wire;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hub.Ingestion;

/// <summary>Outcome of one ingested message (for tests, logs and the benchmark).</summary>
public sealed record IngestResult(int Accepted, int Inserted, int Duplicates, int TooOld, int GapsRecorded, int DriftWindows, string? Rejected);

/// <summary>
/// Applies telemetry and drift batches (EdgeAgent.Telemetry README, "Dedup rule"): decode, check the
/// batch belongs to the topic's device, filter with the shared <see cref="TelemetryDeduplicator"/>,
/// store accepted events, tombstones as gaps and drift windows in one store call each.
/// </summary>
/// <remarks>
/// Thread-safe. The in-memory deduplicator is a fast first filter; the store's primary key
/// (device, boot, seq) is what keeps exactly-once across hub restarts and across instances of a
/// shared subscription. If the store fails, the window is discarded (it would claim events the store
/// does not hold, and the redelivered message would be dropped) and the exception propagates, so the
/// MQTT message is not acknowledged and comes back. A message that violates the contract can never
/// succeed: it is parked in <c>rejected_messages</c> with the reason and acknowledged.
/// </remarks>
public sealed class TelemetryIngestor(IHubStore store, TimeProvider time, ILogger<TelemetryIngestor> logger)
{
    private TelemetryDeduplicator _dedup = new();

    /// <summary>Counters of the current dedup window (reset when the store failed).</summary>
    public DedupStatistics DedupStatistics => Volatile.Read(ref _dedup).Statistics;

    public async Task<IngestResult> IngestAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken ct)
    {
        if (!HubTopics.TryParseDeviceTopic(topic, out var topicDevice, out var leaf) || leaf is not ("telemetry" or "drift"))
            return await RejectAsync(topic, payload, $"topic '{topic}' is not edgeagent/v1/{{deviceId}}/telemetry or …/drift", ct);
        TelemetryBatch batch;
        try
        {
            batch = TelemetryBatchDecoder.Decode(payload.Span);
        }
        catch (TelemetryFormatException e)
        {
            return await RejectAsync(topic, payload, e.Message, ct);
        }
        if (batch.DeviceId != topicDevice)
            return await RejectAsync(topic, payload, $"batch deviceId '{batch.DeviceId}' does not match the topic's device '{topicDevice}'", ct);
        var stream = batch.StreamValue;
        var expectedLeaf = stream == TelemetryStream.Drift ? "drift" : stream == TelemetryStream.Update ? "update" : "telemetry";
        if (expectedLeaf != leaf)
            return await RejectAsync(topic, payload, $"a '{batch.Stream}' batch belongs on edgeagent/v1/{topicDevice}/{expectedLeaf}, not on {topic}", ct);

        var dedup = Volatile.Read(ref _dedup);
        DedupBatchResult filtered;
        try
        {
            filtered = dedup.Filter(batch);
        }
        catch (TelemetryFormatException e)
        {
            return await RejectAsync(topic, payload, e.Message, ct);
        }
        if (filtered.TooOld > 0)
            logger.LogWarning("{DeviceId} boot {BootId}: {TooOld} events below the dedup window ignored (misbehaving device or window too small)",
                batch.DeviceId, batch.BootId, filtered.TooOld);

        var now = time.GetUtcNow();
        var events = new List<StoredEvent>(filtered.Accepted.Count);
        var windows = new List<DriftWindowRecord>();
        var badWindows = new List<string>();
        foreach (var e in filtered.Accepted)
        {
            events.Add(new StoredEvent(batch.DeviceId, batch.BootId, e.Seq, batch.Stream, e.Kind, e.Ts, e.Prio,
                e.Data is { } d ? d.GetRawText() : null, e.Bin));
            if (stream == TelemetryStream.Drift && e.KindValue == TelemetryEventKind.Data)
            {
                if (DriftWindowReader.TryRead(batch.DeviceId, batch.BootId, e, out var w, out var problem)) windows.Add(w!);
                else badWindows.Add(problem!);
            }
        }
        var gaps = filtered.Tombstones.Select(t => new TelemetryGap(batch.DeviceId, t.BootId, t.Stream, t.FromSeq, t.ToSeq, t.Count, t.Reason, now)).ToList();

        TelemetryWriteResult written;
        int driftStored = 0;
        try
        {
            written = await store.StoreTelemetryAsync(events, gaps, ct);
            if (windows.Count > 0) driftStored = await store.StoreDriftWindowsAsync(windows, ct);
        }
        catch
        {
            Interlocked.CompareExchange(ref _dedup, new TelemetryDeduplicator(), dedup);
            throw;
        }
        if (badWindows.Count > 0)
            await RejectAsync(topic, payload, $"{badWindows.Count} drift window(s) stored as events but not merged: {string.Join("; ", badWindows.Take(3))}", ct);
        return new IngestResult(filtered.Accepted.Count, written.Inserted, filtered.Duplicates, filtered.TooOld, written.GapsRecorded, driftStored, null);
    }

    private async Task<IngestResult> RejectAsync(string topic, ReadOnlyMemory<byte> payload, string reason, CancellationToken ct)
    {
        logger.LogWarning("Message on {Topic} parked: {Reason}", topic, reason);
        await store.RecordRejectedMessageAsync(topic, reason, payload, time.GetUtcNow(), ct);
        return new IngestResult(0, 0, 0, 0, 0, 0, reason);
    }
}

/// <summary>
/// Drift windows: an event whose <c>bin</c> is one DataSketches KLL float sketch and whose <c>key</c>
/// names the model and feature as <c>MODEL@VERSION/FEATURE</c> (or <c>MODEL/FEATURE</c>, version
/// <c>unversioned</c>). The day is the event's UTC date.
/// </summary>
public static class DriftWindowReader
{
    public const string UnversionedModel = "unversioned";

    public static bool TryRead(string deviceId, string bootId, TelemetryEvent e, out DriftWindowRecord? window, out string? problem)
    {
        window = null;
        problem = null;
        if (e.Bin is null) { problem = $"seq {e.Seq}: drift window has no binary sketch"; return false; }
        if (!TryParseKey(e.Key, out var model, out var version, out var feature))
        {
            problem = $"seq {e.Seq}: drift key '{e.Key}' is not MODEL@VERSION/FEATURE";
            return false;
        }
        try
        {
            KllFloatsSketch.Deserialize(e.Bin);
        }
        catch (KllFormatException ex)
        {
            problem = $"seq {e.Seq}: sketch is not a DataSketches KLL float sketch ({ex.Message})";
            return false;
        }
        window = new DriftWindowRecord(deviceId, bootId, e.Seq, model, version, feature, DateOnly.FromDateTime(e.Ts.UtcDateTime), e.Bin);
        return true;
    }

    public static bool TryParseKey(string? key, out string model, out string version, out string feature)
    {
        model = version = feature = "";
        if (string.IsNullOrEmpty(key)) return false;
        int slash = key.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == key.Length - 1) return false;
        var left = key[..slash];
        feature = key[(slash + 1)..];
        int at = left.IndexOf('@', StringComparison.Ordinal);
        if (at == 0 || at == left.Length - 1) return false;
        model = at < 0 ? left : left[..at];
        version = at < 0 ? UnversionedModel : left[(at + 1)..];
        return true;
    }

    internal static string DayText(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}

/// <summary>The hub's view of the device topic tree (DESIGN.md §5).</summary>
public static class HubTopics
{
    public const string Root = "edgeagent/v1/";

    /// <summary>Splits <c>edgeagent/v1/{deviceId}/{leaf}</c>; false for anything else.</summary>
    public static bool TryParseDeviceTopic(string topic, out string deviceId, out string leaf)
    {
        deviceId = leaf = "";
        if (!topic.StartsWith(Root, StringComparison.Ordinal)) return false;
        var rest = topic.AsSpan(Root.Length);
        int slash = rest.IndexOf('/');
        if (slash <= 0 || slash == rest.Length - 1 || rest[(slash + 1)..].Contains('/')) return false;
        deviceId = rest[..slash].ToString();
        leaf = rest[(slash + 1)..].ToString();
        return true;
    }
}
