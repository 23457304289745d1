using EdgeAgent.Outbox.Queue;
using EdgeAgent.Telemetry.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeAgent.Outbox.Drain;

/// <summary>Counters of an <see cref="OutboxDrainer"/>.</summary>
public readonly record struct DrainerStatistics(
    long PublishedBatches,
    long PublishedEvents,
    long PublishedBytes,
    long JsonBytes,
    long FailedPublishes,
    long TimedOutPublishes);

/// <summary>
/// Publishes outbox events as batches (one MQTT message each, JSON documented in
/// shared/EdgeAgent.Telemetry/README.md, gzip when it helps) and deletes them only after PUBACK or,
/// with <see cref="DrainerOptions.AwaitHubAck"/>, only after the hub's end-to-end ack.
/// </summary>
/// <remarks>
/// <para>Order: events of one stream, boot and epoch are published in seq order, one batch in flight
/// per stream, and the next batch of a lane is read only after the previous one was acknowledged and
/// deleted — so a failed batch is retried with the same seqs before anything newer of that lane.</para>
/// <para>Live before backlog: the live lane of every stream (events of the current epoch of the
/// current boot) is served before any backlog lane (earlier epochs, earlier boots — i.e. what was
/// stored before the last outage or power cut, oldest first), and takes the rate-limit tokens first.
/// When a publish succeeds after a failure (the link is back), the drainer starts a new epoch, so
/// everything stored until then becomes backlog. Order holds per (stream, boot, epoch); the hub keeps
/// dedup state per epoch (see README, "Dedup rule").</para>
/// <para>Thread safety: <see cref="RunAsync"/> may run once at a time; <see cref="Statistics"/> may be read from any thread.</para>
/// </remarks>
public sealed class OutboxDrainer
{
    private readonly TelemetryOutbox _outbox;
    private readonly ITelemetryTransport _transport;
    private readonly DrainerOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TelemetryBatchEncoder _encoder = new();
    private readonly Lane[] _lanes;
    private long _batches, _events, _bytes, _json, _failures, _timeouts;
    private int _running;
    private int _linkDown; // 1 after a failed publish, until the next success
    private long _seenLinkRequeues; // the outbox's LinkRequeues when this loop last looked
    private long? _linkBackAt; // timestamp of the last reconnect this loop noticed

    public OutboxDrainer(TelemetryOutbox outbox, ITelemetryTransport transport, DrainerOptions options,
        TimeProvider? time = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(outbox);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);
        TelemetryStreams.ValidateDeviceId(options.DeviceId);
        if (options.MaxBatchEvents < 1) throw new ArgumentException($"MaxBatchEvents must be ≥ 1 (got {options.MaxBatchEvents})", nameof(options));
        if (options.MaxBatchBytes < 1) throw new ArgumentException($"MaxBatchBytes must be ≥ 1 (got {options.MaxBatchBytes})", nameof(options));
        if (options.MaxBatchSeqSpan < 1) throw new ArgumentException($"MaxBatchSeqSpan must be ≥ 1 (got {options.MaxBatchSeqSpan})", nameof(options));
        if (options.MaxInFlight < 1) throw new ArgumentException($"MaxInFlight must be ≥ 1 (got {options.MaxInFlight})", nameof(options));
        if (options.MaxEventsPerSecond is <= 0 || options.MaxBytesPerSecond is <= 0)
            throw new ArgumentException("drain rate limits must be positive when set", nameof(options));
        if (options.PublishTimeout <= TimeSpan.Zero) throw new ArgumentException("PublishTimeout must be positive", nameof(options));
        if (options.AckTimeout <= TimeSpan.Zero) throw new ArgumentException($"AckTimeout must be positive (got {options.AckTimeout})", nameof(options));
        if (options.ReconnectAckTimeout <= TimeSpan.Zero) throw new ArgumentException($"ReconnectAckTimeout must be positive (got {options.ReconnectAckTimeout})", nameof(options));
        if (options.MaxAwaitingBatches < 1) throw new ArgumentException($"MaxAwaitingBatches must be ≥ 1 (got {options.MaxAwaitingBatches})", nameof(options));
        _outbox = outbox;
        _transport = transport;
        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _lanes =
        [
            .. TelemetryStreams.ByDrainPriority.Select(s => new Lane(s, Live: true, TelemetryStreams.Topic(options.DeviceId, s))),
            .. TelemetryStreams.ByDrainPriority.Select(s => new Lane(s, Live: false, TelemetryStreams.Topic(options.DeviceId, s))),
        ];
    }

    public DrainerStatistics Statistics => new(
        Interlocked.Read(ref _batches), Interlocked.Read(ref _events), Interlocked.Read(ref _bytes),
        Interlocked.Read(ref _json), Interlocked.Read(ref _failures), Interlocked.Read(ref _timeouts));

    /// <summary>Drains until cancelled. Returns after cancellation once in-flight publishes ended; their rows stay queued unless acknowledged.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _running, 1) != 0) throw new InvalidOperationException("the drainer is already running");
        var events = _options.MaxEventsPerSecond is { } eps ? new TokenBucket(eps, Math.Max(eps, _options.MaxBatchEvents), _time) : null;
        var bytes = _options.MaxBytesPerSecond is { } bps ? new TokenBucket(bps, Math.Max(bps, _options.MaxBatchBytes), _time) : null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                // Take the signal before reading so a commit between read and wait is not missed.
                var data = _outbox.WaitForDataAsync(cancellationToken);
                TimeSpan? wake = null;
                var inFlight = _lanes.Count(l => l.InFlight is not null);
                if (_options.AwaitHubAck)
                {
                    var ackTimeout = CurrentAckTimeout();
                    _outbox.RequeueUnacknowledged(ackTimeout);
                    // Look again when the oldest awaiting batch could expire, even if nothing else happens.
                    wake = Min(wake, ackTimeout / 4);
                }
                foreach (var lane in _lanes)
                {
                    if (inFlight >= _options.MaxInFlight) break;
                    // One batch per stream in flight: after a new epoch starts, the backlog lane would
                    // otherwise read the very rows the live lane is still publishing.
                    if (StreamBusy(lane.Stream)) continue;
                    // Send window: an ack (or a requeue) signals the outbox, which wakes this loop.
                    if (_options.AwaitHubAck && _outbox.AwaitingAckBatches(lane.Stream) >= _options.MaxAwaitingBatches) continue;
                    var now = _time.GetTimestamp();
                    if (lane.RetryAt > now)
                    {
                        wake = Min(wake, _time.GetElapsedTime(now, lane.RetryAt));
                        continue;
                    }
                    var maxEvents = _options.MaxBatchEvents;
                    if (events is not null)
                    {
                        var available = (int)Math.Min(int.MaxValue, Math.Floor(events.Available));
                        if (available < 1) { wake = Min(wake, events.TimeUntil(1)); break; }
                        maxEvents = Math.Min(maxEvents, available);
                    }
                    if (bytes is not null && bytes.Available <= 0) { wake = Min(wake, bytes.TimeUntil(1)); break; }

                    _outbox.Lease(lane.Stream);
                    var generation = _outbox.AckGeneration; // before the read: a requeue after it must win
                    OutboxBatch? batch;
                    EncodedBatch encoded;
                    try
                    {
                        batch = _outbox.ReadBatch(lane.Stream, lane.Live, maxEvents, _options.MaxBatchBytes, _options.MaxBatchSeqSpan);
                        if (batch is null)
                        {
                            _outbox.Release(lane.Stream);
                            continue;
                        }
                        encoded = _encoder.Encode(_options.DeviceId, lane.Stream, batch.BootId, batch.Events, _time.GetUtcNow(), batch.Epoch);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        // A read or encode problem (e.g. SQLite busy or an I/O error) must not end
                        // the drainer: back this lane off like a failed publish.
                        _outbox.Release(lane.Stream);
                        Backoff(lane, ex, $"reading {TelemetryStreams.WireName(lane.Stream)} events");
                        continue;
                    }
                    events?.Take(batch.Events.Length);
                    bytes?.Take(encoded.Payload.Length);
                    lane.InFlight = PublishAsync(lane, batch, encoded, generation, cancellationToken);
                    inFlight++;
                }

                var waits = new List<Task>(_lanes.Length + 2);
                foreach (var lane in _lanes)
                {
                    if (lane.InFlight is { } t) waits.Add(t);
                }
                if (inFlight < _options.MaxInFlight) waits.Add(data);
                if (waits.Count == 0 || inFlight == 0) wake = Min(wake, _options.IdlePoll);
                if (wake is { } w) waits.Add(Task.Delay(w, _time, cancellationToken));
                if (waits.Count == 0) waits.Add(data);
                await Task.WhenAny(waits).ConfigureAwait(false);
                foreach (var lane in _lanes)
                {
                    if (lane.InFlight is { IsCompleted: true }) lane.InFlight = null;
                }
            }
        }
        finally
        {
            foreach (var lane in _lanes)
            {
                if (lane.InFlight is { } t)
                {
                    await t.ConfigureAwait(false); // PublishAsync never throws
                    lane.InFlight = null;
                }
            }
            Volatile.Write(ref _running, 0);
        }
    }

    private async Task PublishAsync(Lane lane, OutboxBatch batch, EncodedBatch encoded, long generation, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            try
            {
                // WaitAsync also covers a transport that ignores its token and never returns.
                await _transport.PublishAsync(lane.Topic, encoded.Payload, encoded.ContentType, attempt.Token)
                    .AsTask().WaitAsync(_options.PublishTimeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                await attempt.CancelAsync().ConfigureAwait(false);
                Interlocked.Increment(ref _timeouts);
                throw new TimeoutException($"no PUBACK within {_options.PublishTimeout.TotalSeconds:0.#} s");
            }
            if (_options.AwaitHubAck)
            {
                // The broker has it, which a broker crash can undo (docs/CHAOS.md bug 3): the rows
                // stay until the hub says it stored them. Nothing is written here; a crash re-sends.
                _outbox.MarkAwaitingAck(batch, generation);
            }
            else
            {
                // Delete only after PUBACK. A crash between PUBACK and this commit re-sends the same
                // seqs after restart; the hub's dedup absorbs them (exactly-once in effect).
                await _outbox.DeletePublishedAsync(batch, cancellationToken).ConfigureAwait(false);
            }
            lane.Failures = 0;
            if (Interlocked.Exchange(ref _linkDown, 0) == 1)
            {
                // A broker that went away may have lost what it acknowledged but had not delivered.
                if (_options.AwaitHubAck) _outbox.RequeueAwaitingAck();
                // The link is back after an outage: what is stored now becomes backlog (an older
                // epoch) and events appended from now on go out first, in their own epoch.
                try
                {
                    await _outbox.StartNewEpochAsync(cancellationToken).ConfigureAwait(false);
                    _logger.LogInformation("Outbox drainer: link restored; epoch {Epoch} is live, older events drain as backlog", _outbox.LiveEpoch);
                }
                catch (OutboxException ex)
                {
                    _logger.LogWarning("Outbox drainer could not start a new epoch ({Error}); events keep their order", ex.Message);
                }
            }
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _events, batch.Events.Length);
            Interlocked.Add(ref _bytes, encoded.Payload.Length);
            Interlocked.Add(ref _json, encoded.JsonLength);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Shutting down: the rows stay and go out after restart.
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _failures);
            Volatile.Write(ref _linkDown, 1);
            Backoff(lane, ex, $"publishing {TelemetryStreams.WireName(lane.Stream)} batch {batch.BootId}:{batch.Events[0].Seq}..{batch.Events[^1].Seq}");
        }
        finally
        {
            _outbox.Release(lane.Stream);
        }
    }

    private void Backoff(Lane lane, Exception ex, string what)
    {
        lane.Failures++;
        var backoff = Math.Min(_options.MaxRetryDelay.TotalMilliseconds,
            _options.InitialRetryDelay.TotalMilliseconds * Math.Pow(2, Math.Min(lane.Failures - 1, 20)));
        backoff *= 0.8 + (Random.Shared.NextDouble() * 0.4); // jitter: devices reconnecting together do not retry in lockstep
        lane.RetryAt = _time.GetTimestamp() + (long)(backoff / 1000.0 * _time.TimestampFrequency);
        _logger.LogWarning("Outbox drainer: {What} failed ({Error}); retry in {Delay} ms", what, ex.Message, (long)backoff);
    }

    private bool StreamBusy(TelemetryStream stream)
    {
        foreach (var l in _lanes)
        {
            if (l.Stream == stream && l.InFlight is not null) return true;
        }
        return false;
    }

    private static TimeSpan? Min(TimeSpan? a, TimeSpan b) => a is { } x && x < b ? x : b;

    /// <summary>The ack timeout now: <see cref="DrainerOptions.ReconnectAckTimeout"/> for one <see cref="DrainerOptions.AckTimeout"/> after a reconnect.</summary>
    private TimeSpan CurrentAckTimeout()
    {
        long requeues = _outbox.LinkRequeues;
        if (requeues != _seenLinkRequeues)
        {
            _seenLinkRequeues = requeues;
            _linkBackAt = _time.GetTimestamp();
        }
        bool justReconnected = _linkBackAt is { } back && _time.GetElapsedTime(back) < _options.AckTimeout;
        return justReconnected && _options.ReconnectAckTimeout < _options.AckTimeout ? _options.ReconnectAckTimeout : _options.AckTimeout;
    }

    private sealed class Lane(TelemetryStream stream, bool Live, string topic)
    {
        public TelemetryStream Stream { get; } = stream;
        public bool Live { get; } = Live;
        public string Topic { get; } = topic;
        public Task? InFlight { get; set; }
        public long RetryAt { get; set; }
        public int Failures { get; set; }
    }
}
