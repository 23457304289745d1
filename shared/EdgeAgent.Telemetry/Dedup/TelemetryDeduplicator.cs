using System.Text.Json;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Telemetry.Dedup;

/// <summary>What the hub should do with one event.</summary>
public enum DedupVerdict
{
    /// <summary>First time seen: apply it.</summary>
    Accepted,

    /// <summary>Seen before (inside the window): ignore it. Normal after a retried batch.</summary>
    Duplicate,

    /// <summary>
    /// At or below high-water − window: cannot tell, so it is treated as a duplicate and ignored.
    /// The device drainer never produces this (one batch in flight per stream, batches shorter than
    /// the window), so a non-zero count means a misbehaving device or a too small window: alert on it.
    /// </summary>
    TooOld,
}

/// <summary>Settings of <see cref="TelemetryDeduplicator"/>.</summary>
public sealed record TelemetryDedupOptions
{
    /// <summary>
    /// Out-of-order window in seqs; a power of two, at least 64. Must exceed the seq span of the
    /// largest batch a device sends (the drainer's <c>MaxBatchSeqSpan</c>, 1000 by default).
    /// </summary>
    public int WindowSize { get; init; } = 2048;

    /// <summary>Boots remembered per device (least recently active is forgotten first).</summary>
    public int MaxBootsPerDevice { get; init; } = 4;

    /// <summary>Epochs remembered per (device, boot, stream) (least recently active is forgotten first).</summary>
    public int MaxEpochsPerStream { get; init; } = 4;
}

/// <summary>Result of <see cref="TelemetryDeduplicator.Filter"/> for one batch.</summary>
/// <param name="Accepted">Events to apply, in batch order.</param>
/// <param name="Tombstones">Accepted tombstones (also in <paramref name="Accepted"/>): data the device dropped.</param>
/// <param name="Duplicates">Events ignored as already seen.</param>
/// <param name="TooOld">Events ignored because they were below the window (see <see cref="DedupVerdict.TooOld"/>).</param>
public sealed record DedupBatchResult(
    IReadOnlyList<TelemetryEvent> Accepted,
    IReadOnlyList<TombstonePayload> Tombstones,
    int Duplicates,
    int TooOld);

/// <summary>Counters since construction.</summary>
public readonly record struct DedupStatistics(long Accepted, long Duplicates, long TooOld, long StatesForgotten, int TrackedDevices);

/// <summary>
/// Reference implementation of the hub-side dedup rule (README.md, "Dedup rule"): the identity of an
/// event is (deviceId, bootId, seq); state is a high-water mark plus an out-of-order bitmap window
/// per (deviceId, bootId, stream, epoch), because the device preserves order per stream and epoch,
/// not across them (it sends the newest epoch first after an outage).
/// </summary>
/// <remarks>
/// Thread-safe (one lock; the work per event is a few bit operations). Memory is bounded per device:
/// at most MaxBootsPerDevice × 4 streams × MaxEpochsPerStream × (WindowSize/8 + ~100) bytes.
/// State lives in memory: a hub that restarts forgets it, so a batch retried across a hub restart is
/// applied twice unless the hub persists high-water marks (its store's job; see README).
/// </remarks>
public sealed class TelemetryDeduplicator
{
    private readonly TelemetryDedupOptions _options;
    private readonly Dictionary<string, DeviceState> _devices = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _clock; // logical time for least-recently-active eviction
    private long _accepted, _duplicates, _tooOld, _forgotten;

    public TelemetryDeduplicator(TelemetryDedupOptions? options = null)
    {
        _options = options ?? new TelemetryDedupOptions();
        if (_options.WindowSize < 64 || (_options.WindowSize & (_options.WindowSize - 1)) != 0)
            throw new ArgumentException($"dedup WindowSize {_options.WindowSize} must be a power of two ≥ 64", nameof(options));
        if (_options.MaxBootsPerDevice < 1 || _options.MaxEpochsPerStream < 1)
            throw new ArgumentException("dedup MaxBootsPerDevice and MaxEpochsPerStream must be at least 1", nameof(options));
    }

    /// <summary>Classifies one event and records it when accepted.</summary>
    public DedupVerdict Observe(string deviceId, string bootId, TelemetryStream stream, long seq, int epoch = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seq, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        lock (_lock)
        {
            var window = WindowFor(deviceId, bootId, stream, epoch);
            var verdict = window.Observe(seq);
            switch (verdict)
            {
                case DedupVerdict.Accepted: _accepted++; break;
                case DedupVerdict.Duplicate: _duplicates++; break;
                default: _tooOld++; break;
            }
            return verdict;
        }
    }

    /// <summary>Filters a decoded batch: returns the events to apply and the tombstones among them.</summary>
    public DedupBatchResult Filter(TelemetryBatch batch)
    {
        var stream = batch.StreamValue;
        var accepted = new List<TelemetryEvent>(batch.Events.Count);
        var tombstones = new List<TombstonePayload>();
        int duplicates = 0, tooOld = 0;
        foreach (var e in batch.Events)
        {
            switch (Observe(batch.DeviceId, batch.BootId, stream, e.Seq, batch.Epoch))
            {
                case DedupVerdict.Accepted:
                    accepted.Add(e);
                    if (e.KindValue == TelemetryEventKind.Tombstone && e.Data is { } data)
                    {
                        var t = data.Deserialize(TelemetryJsonContext.Default.TombstonePayload)
                                ?? throw new TelemetryFormatException($"tombstone seq {e.Seq} has a null payload");
                        tombstones.Add(t);
                    }
                    break;
                case DedupVerdict.Duplicate: duplicates++; break;
                default: tooOld++; break;
            }
        }
        return new DedupBatchResult(accepted, tombstones, duplicates, tooOld);
    }

    public DedupStatistics Statistics
    {
        get { lock (_lock) return new(_accepted, _duplicates, _tooOld, _forgotten, _devices.Count); }
    }

    private SeqWindow WindowFor(string deviceId, string bootId, TelemetryStream stream, int epoch)
    {
        if (!_devices.TryGetValue(deviceId, out var device))
            _devices[deviceId] = device = new DeviceState();
        var now = ++_clock;
        var boot = device.Boots.Find(b => b.BootId == bootId);
        if (boot is null)
        {
            // A new boot starts with empty windows. To stay bounded, forget the least recently
            // active boot: an event of a forgotten boot is then treated like a new boot (accepted).
            if (device.Boots.Count >= _options.MaxBootsPerDevice)
            {
                var oldest = device.Boots.MinBy(b => b.LastActive)!;
                device.Boots.Remove(oldest);
                _forgotten++;
            }
            boot = new BootState(bootId);
            device.Boots.Add(boot);
        }
        boot.LastActive = now;
        var epochs = boot.Streams[(int)stream] ??= new List<EpochState>(1);
        var state = epochs.Find(e => e.Epoch == epoch);
        if (state is null)
        {
            if (epochs.Count >= _options.MaxEpochsPerStream)
            {
                epochs.Remove(epochs.MinBy(e => e.LastActive)!);
                _forgotten++;
            }
            state = new EpochState(epoch, new SeqWindow(_options.WindowSize));
            epochs.Add(state);
        }
        state.LastActive = now;
        return state.Window;
    }

    private sealed class DeviceState
    {
        public List<BootState> Boots { get; } = new(2);
    }

    private sealed class BootState(string bootId)
    {
        public string BootId { get; } = bootId;
        public long LastActive { get; set; }
        public List<EpochState>?[] Streams { get; } = new List<EpochState>?[4];
    }

    private sealed class EpochState(int epoch, SeqWindow window)
    {
        public int Epoch { get; } = epoch;
        public SeqWindow Window { get; } = window;
        public long LastActive { get; set; }
    }
}
