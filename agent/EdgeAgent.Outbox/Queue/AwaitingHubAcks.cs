using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Queue;

/// <summary>
/// Batches the broker acknowledged (PUBACK) whose rows wait for the hub's end-to-end ack before they
/// are deleted (README "End-to-end acknowledgement"). Memory only, on purpose: the rows themselves stay
/// in the database until the hub acks them, so after a crash every one of them is simply pending again
/// and is re-sent — there is no state to recover, and marking rows costs no write at PUBACK time.
/// </summary>
/// <remarks>
/// <para>Per lane key (stream, boot, epoch) it keeps a <em>floor</em>: the highest row id handed to
/// the broker. The drainer reads a lane only above its floor, so sent rows are not read again while
/// they await the ack. Acked rows are deleted; the floor stays where it is, so a read racing with the
/// delete never re-reads them.</para>
/// <para>Requeue is go-back-N: when any batch of a key waited longer than the ack timeout (or the link
/// came back), every awaiting batch of that key is forgotten and its floor dropped, so the lane re-reads
/// from its oldest row and the order per (stream, boot, epoch) holds. The hub's dedup absorbs what it
/// already had. A generation counter keeps a batch read before a requeue from being registered after it
/// (its rows would otherwise sit below a raised floor, never re-read).</para>
/// <para>Thread safety: every member may be called from any thread (one lock, held briefly).</para>
/// </remarks>
internal sealed class AwaitingHubAcks
{
    private readonly Lock _lock = new();
    private readonly List<Entry> _entries = []; // in registration order
    private readonly Dictionary<LaneKey, long> _floors = [];
    private readonly int[] _batchesPerStream = new int[4];
    private long _generation;
    private long _requeuedEvents;

    public long Generation
    {
        get { lock (_lock) return _generation; }
    }

    public long RequeuedEvents
    {
        get { lock (_lock) return _requeuedEvents; }
    }

    /// <summary>Rows above this id are not yet sent in this lane (0 = read from the start).</summary>
    public long Floor(TelemetryStream stream, long boot, int epoch)
    {
        lock (_lock) return _floors.TryGetValue(new LaneKey(stream, boot, epoch), out var f) ? f : 0;
    }

    public int Batches(TelemetryStream stream)
    {
        lock (_lock) return _batchesPerStream[(int)stream];
    }

    /// <summary>Registers a batch after its PUBACK. False (and nothing registered) when a requeue happened since <paramref name="generation"/> was read: the rows are pending and will be read again.</summary>
    public bool TryAdd(OutboxBatch batch, long boot, long generation, long sentTimestamp)
    {
        lock (_lock)
        {
            if (generation != _generation) return false;
            var key = new LaneKey(batch.Stream, boot, batch.Epoch);
            _entries.Add(new Entry(key, [.. batch.Rows], sentTimestamp));
            var maxId = batch.Rows[^1].Id;
            if (!_floors.TryGetValue(key, out var f) || f < maxId) _floors[key] = maxId;
            _batchesPerStream[(int)batch.Stream]++;
            return true;
        }
    }

    /// <summary>
    /// Removes the awaiting rows of (stream, boot) that <paramref name="ranges"/> cover and returns them;
    /// <paramref name="uncovered"/> gets the ranges not inside one awaiting batch's seq span (an ack that
    /// arrived after a restart or requeue), which the outbox deletes by seq instead.
    /// </summary>
    public RowRef[] Take(TelemetryStream stream, long boot, IReadOnlyList<long[]> ranges, List<long[]> uncovered)
    {
        var taken = new List<RowRef>();
        lock (_lock)
        {
            foreach (var r in ranges)
            {
                var inside = false;
                for (var i = 0; i < _entries.Count; i++)
                {
                    var e = _entries[i];
                    if (e.Key.Stream != stream || e.Key.Boot != boot || e.Rows.Count == 0) continue;
                    if (r[0] >= e.Rows[0].Seq && r[1] <= e.Rows[^1].Seq) inside = true;
                    if (r[1] < e.Rows[0].Seq || r[0] > e.Rows[^1].Seq) continue;
                    e.Rows.RemoveAll(row =>
                    {
                        if (row.Seq < r[0] || row.Seq > r[1]) return false;
                        taken.Add(row);
                        return true;
                    });
                }
                if (!inside) uncovered.Add(r);
            }
            for (var i = _entries.Count - 1; i >= 0; i--)
            {
                if (_entries[i].Rows.Count > 0) continue;
                _batchesPerStream[(int)_entries[i].Key.Stream]--;
                _entries.RemoveAt(i);
            }
        }
        return [.. taken];
    }

    /// <summary>Forgets every awaiting batch (the link came back: what the broker held may be gone). Returns the events requeued.</summary>
    public long RequeueAll() => Requeue(_ => true, all: true);

    /// <summary>Go-back-N for every lane with a batch sent before <paramref name="deadlineTimestamp"/>. Returns the events requeued.</summary>
    public long RequeueSentBefore(long deadlineTimestamp) => Requeue(e => e.SentTimestamp < deadlineTimestamp, all: false);

    private long Requeue(Func<Entry, bool> expired, bool all)
    {
        lock (_lock)
        {
            var keys = new HashSet<LaneKey>();
            foreach (var e in _entries)
            {
                if (expired(e)) keys.Add(e.Key);
            }
            if (keys.Count == 0 && !all) return 0;
            long events = 0;
            for (var i = _entries.Count - 1; i >= 0; i--)
            {
                var e = _entries[i];
                if (!keys.Contains(e.Key)) continue;
                events += e.Rows.Count;
                _batchesPerStream[(int)e.Key.Stream]--;
                _entries.RemoveAt(i);
            }
            if (all) _floors.Clear(); // also forgets lanes long drained (bounded memory across reconnects)
            else foreach (var k in keys) _floors.Remove(k);
            _generation++;
            _requeuedEvents += events;
            return events;
        }
    }

    /// <summary>Events and batches awaiting the hub, per stream.</summary>
    public (Dictionary<TelemetryStream, long> Events, long Batches) Snapshot()
    {
        var events = new Dictionary<TelemetryStream, long>();
        foreach (var s in Enum.GetValues<TelemetryStream>()) events[s] = 0;
        lock (_lock)
        {
            foreach (var e in _entries) events[e.Key.Stream] += e.Rows.Count;
            return (events, _entries.Count);
        }
    }

    private readonly record struct LaneKey(TelemetryStream Stream, long Boot, int Epoch);

    private sealed record Entry(LaneKey Key, List<RowRef> Rows, long SentTimestamp);
}
