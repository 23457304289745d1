using System.Globalization;
using System.Text.Json;
using EdgeAgent.Hub.Rollouts;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Telemetry.Dedup;
using EdgeAgent.Telemetry.Wire;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hub.Ingestion;

/// <summary>Outcome of one ingested message (for tests, logs and the benchmark).</summary>
/// <param name="Ack">The end-to-end ack to publish to the device (shared/EdgeAgent.Telemetry README, "Acknowledgement"):
/// set once the batch's events are committed to the store or judged duplicates (also too-old ones, which the dedup
/// rule treats as replays); null for a parked batch, which the device keeps and sends again.</param>
public sealed record IngestResult(int Accepted, int Inserted, int Duplicates, int TooOld, int GapsRecorded, int DriftWindows, string? Rejected,
    EdgeAgent.Telemetry.Acks.TelemetryAck? Ack = null);

/// <summary>
/// Applies telemetry and drift batches (EdgeAgent.Telemetry README, "Dedup rule"): decode, check the
/// batch belongs to the topic's device, filter with the shared <see cref="TelemetryDeduplicator"/>,
/// store accepted events, tombstones as gaps, drift windows, update transitions and parked messages of
/// one or several MQTT messages in one store transaction (<see cref="IngestBatchAsync"/>).
/// </summary>
/// <remarks>
/// Thread-safe. The in-memory deduplicator is a fast first filter; the store's primary key
/// (device, boot, seq) is what keeps exactly-once across hub restarts and across instances of a
/// shared subscription. If the store fails, the window is discarded (it would claim events the store
/// does not hold, and the redelivered message would be dropped) and the exception propagates, so the
/// MQTT message is not acknowledged and comes back. A message that violates the contract can never
/// succeed: it is parked in <c>rejected_messages</c> with the reason (in the batch's transaction) and acknowledged.
/// <para>
/// Update batches (stream <c>update</c>, the device's update state machine transitions) are stored as events
/// like telemetry and, in addition, as rows of <c>device_update_events</c> with each device's newest state
/// per family (<see cref="UpdateEventReader"/>); then <paramref name="rollouts"/> is nudged so a rollout
/// reacts to a refusal or a commit without waiting for its next tick.
/// </para>
/// </remarks>
public sealed class TelemetryIngestor(IHubStore store, TimeProvider time, ILogger<TelemetryIngestor> logger, RolloutSignal? rollouts = null)
{
    private TelemetryDeduplicator _dedup = new();

    /// <summary>Counters of the current dedup window (reset when the store failed).</summary>
    public DedupStatistics DedupStatistics => Volatile.Read(ref _dedup).Statistics;

    /// <summary>Ingests one message: a batch of one (<see cref="IngestBatchAsync"/>), same contract.</summary>
    public async Task<IngestResult> IngestAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken ct) =>
        (await IngestBatchAsync([(topic, payload)], ct))[0];

    /// <summary>
    /// Ingests several MQTT messages with ONE store transaction (<see cref="IHubStore.StoreIngestBatchAsync"/>):
    /// each message is decoded, checked and deduplicated in order (so a message repeating an earlier one of the
    /// same batch counts as duplicates), a message that breaks the contract is parked with its reason, then all
    /// accepted events, gaps, drift windows, update transitions and parked messages are committed together.
    /// Returns one <see cref="IngestResult"/> per message, in order; the acks in them are valid only because the
    /// call returned. If the store throws, nothing of the batch is stored, the dedup window is reset and the
    /// exception propagates: acknowledge none of the messages, they come back. Thread-safe like
    /// <see cref="IngestAsync"/> (the MQTT consumer calls it sequentially, which keeps the order of messages).
    /// </summary>
    public async Task<IReadOnlyList<IngestResult>> IngestBatchAsync(IReadOnlyList<(string Topic, ReadOnlyMemory<byte> Payload)> messages, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var now = time.GetUtcNow();
        var dedup = Volatile.Read(ref _dedup);
        var planned = new Planned[messages.Count];
        IReadOnlyList<IngestItemWritten> written;
        try
        {
            for (int i = 0; i < messages.Count; i++) planned[i] = Plan(messages[i].Topic, messages[i].Payload, dedup, now);
            written = await store.StoreIngestBatchAsync([.. planned.Select(p => p.Item)], now, ct);
        }
        catch
        {
            // The window already holds this batch's events, which the store does not: forget it, or the
            // redelivered messages would be dropped as duplicates.
            Interlocked.CompareExchange(ref _dedup, new TelemetryDeduplicator(), dedup);
            throw;
        }

        var results = new IngestResult[planned.Length];
        bool updates = false;
        for (int i = 0; i < planned.Length; i++)
        {
            var p = planned[i];
            foreach (var r in p.Item.Rejections) logger.LogWarning("Message on {Topic} parked: {Reason}", r.Topic, r.Reason);
            if (p.Batch is not { } batch || p.Filtered is not { } filtered)
            {
                results[i] = new IngestResult(0, 0, 0, 0, 0, 0, p.Item.Rejections[0].Reason);
                continue;
            }
            if (filtered.TooOld > 0)
                logger.LogWarning("{DeviceId} boot {BootId}: {TooOld} events below the dedup window ignored (misbehaving device or window too small)",
                    batch.DeviceId, batch.BootId, filtered.TooOld);
            updates |= p.Item.Updates.Count > 0;
            // Only now, after the commit: an ack tells the device it may delete the events for good.
            results[i] = new IngestResult(filtered.Accepted.Count, written[i].Inserted, filtered.Duplicates, filtered.TooOld, written[i].GapsRecorded,
                written[i].DriftWindows, null, EdgeAgent.Telemetry.Acks.TelemetryAckCodec.ForBatch(batch));
        }
        if (updates) rollouts?.Nudge();
        return results;
    }

    /// <summary>What one message contributes to the batch; <see cref="Batch"/> null when it is parked whole.</summary>
    private sealed record Planned(IngestBatchItem Item, TelemetryBatch? Batch = null, DedupBatchResult? Filtered = null);

    private static Planned Park(string topic, ReadOnlyMemory<byte> payload, string reason, DateTimeOffset now) =>
        new(IngestBatchItem.Parked(new RejectedMessageWrite(topic, reason, payload, now)));

    /// <summary>Decodes, checks and filters one message (no I/O); the dedup window takes its accepted events.</summary>
    private static Planned Plan(string topic, ReadOnlyMemory<byte> payload, TelemetryDeduplicator dedup, DateTimeOffset now)
    {
        if (!HubTopics.TryParseDeviceTopic(topic, out var topicDevice, out var leaf) || leaf is not ("telemetry" or "drift" or "update"))
            return Park(topic, payload, $"topic '{topic}' is not edgeagent/v1/{{deviceId}}/telemetry, …/drift or …/update", now);
        TelemetryBatch batch;
        try
        {
            batch = TelemetryBatchDecoder.Decode(payload.Span);
        }
        catch (TelemetryFormatException e)
        {
            return Park(topic, payload, e.Message, now);
        }
        if (batch.DeviceId != topicDevice)
            return Park(topic, payload, $"batch deviceId '{batch.DeviceId}' does not match the topic's device '{topicDevice}'", now);
        var stream = batch.StreamValue;
        var expectedLeaf = stream == TelemetryStream.Drift ? "drift" : stream == TelemetryStream.Update ? "update" : "telemetry";
        if (expectedLeaf != leaf)
            return Park(topic, payload, $"a '{batch.Stream}' batch belongs on edgeagent/v1/{topicDevice}/{expectedLeaf}, not on {topic}", now);

        DedupBatchResult filtered;
        try
        {
            filtered = dedup.Filter(batch);
        }
        catch (TelemetryFormatException e)
        {
            return Park(topic, payload, e.Message, now);
        }

        var events = new List<StoredEvent>(filtered.Accepted.Count);
        var windows = new List<DriftWindowRecord>();
        var updates = new List<DeviceUpdateEvent>();
        var badWindows = new List<string>();
        var badUpdates = new List<string>();
        foreach (var e in filtered.Accepted)
        {
            events.Add(new StoredEvent(batch.DeviceId, batch.BootId, e.Seq, batch.Stream, e.Kind, e.Ts, e.Prio,
                e.Data is { } d ? d.GetRawText() : null, e.Bin));
            if (stream == TelemetryStream.Drift && e.KindValue == TelemetryEventKind.Data)
            {
                if (DriftWindowReader.TryRead(batch.DeviceId, batch.BootId, e, out var w, out var problem)) windows.Add(w!);
                else badWindows.Add(problem!);
            }
            else if (stream == TelemetryStream.Update && e.KindValue == TelemetryEventKind.Data)
            {
                if (UpdateEventReader.TryRead(batch.DeviceId, batch.BootId, e, out var u, out var problem)) updates.Add(u!);
                else badUpdates.Add(problem!);
            }
        }
        var gaps = filtered.Tombstones.Select(t => new TelemetryGap(batch.DeviceId, t.BootId, t.Stream, t.FromSeq, t.ToSeq, t.Count, t.Reason, now)).ToList();
        var rejections = new List<RejectedMessageWrite>();
        if (badWindows.Count > 0)
            rejections.Add(new(topic, $"{badWindows.Count} drift window(s) stored as events but not merged: {string.Join("; ", badWindows.Take(3))}", payload, now));
        if (badUpdates.Count > 0)
            rejections.Add(new(topic, $"{badUpdates.Count} update event(s) stored as events but not applied to the device's update state: {string.Join("; ", badUpdates.Take(3))}", payload, now));
        return new Planned(new IngestBatchItem(events, gaps, windows, updates, rejections), batch, filtered);
    }
}

/// <summary>
/// Drift windows, in either encoding the agent produces (EdgeAgent.Telemetry README; agent/EdgeAgent.Pipeline
/// <c>DriftWindowSnapshot</c>):
/// <list type="bullet">
/// <item>binary: <c>bin</c> is one DataSketches KLL float sketch and <c>key</c> names the model and feature as
/// <c>MODEL@VERSION/FEATURE</c> (or <c>MODEL/FEATURE</c>, version <c>unversioned</c>);</item>
/// <item>JSON: <c>data</c> is an <c>edgeagent.drift.window/1</c> object with <c>model</c> (<c>NAME@VERSION</c> as the
/// agent writes it), <c>feature</c>, <c>count</c>/<c>mean</c>/<c>m2</c> and <c>kll</c> (the same sketch, base64).
/// The event's <c>key</c>, when present, must agree with <c>model</c>/<c>feature</c>.</item>
/// </list>
/// The day is the event's UTC date. Stateless, thread-safe.
/// </summary>
public static class DriftWindowReader
{
    public const string UnversionedModel = "unversioned";

    /// <summary>Schema of the agent's JSON drift window.</summary>
    public const string JsonSchema = "edgeagent.drift.window/1";

    public static bool TryRead(string deviceId, string bootId, TelemetryEvent e, out DriftWindowRecord? window, out string? problem)
    {
        window = null;
        if (!TryReadSketch(e, out var model, out var version, out var feature, out var sketch, out problem)) return false;
        window = new DriftWindowRecord(deviceId, bootId, e.Seq, model, version, feature, DateOnly.FromDateTime(e.Ts.UtcDateTime), sketch);
        return true;
    }

    /// <summary>
    /// The model, version, feature and KLL sketch bytes of a drift event in either encoding; false with an
    /// operator-readable <paramref name="problem"/> naming the event's seq when it is neither.
    /// </summary>
    public static bool TryReadSketch(TelemetryEvent e, out string model, out string version, out string feature, out byte[] sketch, out string? problem)
    {
        model = version = feature = "";
        sketch = [];
        problem = null;
        if (e.Bin is not null)
        {
            if (!TryParseKey(e.Key, out model, out version, out feature))
            {
                problem = $"seq {e.Seq}: drift key '{e.Key}' is not MODEL@VERSION/FEATURE";
                return false;
            }
            sketch = e.Bin;
        }
        else if (e.Data is { ValueKind: JsonValueKind.Object } data)
        {
            if (!TryReadJson(e.Seq, data, out model, out version, out feature, out sketch, out problem)) return false;
            if (e.Key is not null && (!TryParseKey(e.Key, out var km, out var kv, out var kf) || km != model || kv != version || kf != feature))
            {
                problem = $"seq {e.Seq}: drift key '{e.Key}' does not name the window's model '{model}@{version}' and feature '{feature}'";
                return false;
            }
        }
        else
        {
            problem = $"seq {e.Seq}: drift window is neither a binary KLL sketch ('bin') nor an {JsonSchema} object ('data')";
            return false;
        }
        try
        {
            KllFloatsSketch.Deserialize(sketch);
        }
        catch (KllFormatException ex)
        {
            problem = $"seq {e.Seq}: sketch is not a DataSketches KLL float sketch ({ex.Message})";
            return false;
        }
        return true;
    }

    private static bool TryReadJson(long seq, JsonElement data, out string model, out string version, out string feature, out byte[] sketch, out string? problem)
    {
        model = version = feature = "";
        sketch = [];
        problem = null;
        string? schema = Text(data, "schema"), modelText = Text(data, "model"), kll = Text(data, "kll");
        feature = Text(data, "feature") ?? "";
        if (schema != JsonSchema)
        {
            problem = $"seq {seq}: drift window schema '{schema}' is not {JsonSchema}";
            return false;
        }
        if (string.IsNullOrEmpty(modelText) || feature.Length == 0 || !TryParseKey($"{modelText}/{feature}", out model, out version, out _))
        {
            problem = $"seq {seq}: drift window needs 'model' (NAME@VERSION) and 'feature', got '{modelText}' and '{feature}'";
            return false;
        }
        if (string.IsNullOrEmpty(kll))
        {
            problem = $"seq {seq}: drift window has no 'kll' sketch";
            return false;
        }
        try
        {
            sketch = Convert.FromBase64String(kll);
        }
        catch (FormatException)
        {
            problem = $"seq {seq}: drift window 'kll' is not base64";
            return false;
        }
        return true;
    }

    private static string? Text(JsonElement o, string name) =>
        o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

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
