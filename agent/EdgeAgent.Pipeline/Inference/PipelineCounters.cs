using EdgeAgent.Pipeline.Telemetry;

namespace EdgeAgent.Pipeline.Inference;

/// <summary>Which latency a <see cref="LatencySample"/> measures.</summary>
public enum LatencyStage
{
    /// <summary>Window completion → decision (local answer, cloud answer or fallback).</summary>
    Decided,
    /// <summary>Window completion → the result's telemetry event committed in the outbox.</summary>
    Committed,
}

/// <summary>One latency observation for a histogram (e.g. Prometheus), handed to <see cref="InferencePipelineOptions.LatencyObserver"/>.</summary>
public readonly record struct LatencySample(LatencyStage Stage, DecidedBy DecidedBy, TimeSpan Elapsed, TimeSpan Inference);

/// <summary>Point-in-time copy of <see cref="PipelineCounters"/>.</summary>
public sealed record PipelineCountersSnapshot(
    long Windows, long Local, long Cloud, long Fallback, IReadOnlyDictionary<FallbackReason, long> FallbackByReason,
    long Escalated, long TelemetryCommitted, long TelemetryDropped, long FallbackCasesQueued, long DriftSnapshots,
    long OutputDropped, long OutputFailures, double FallbackRate, double LastDriftScore, DateTimeOffset? LastWindowAt, long Progress);

/// <summary>
/// Live counters of an <see cref="InferencePipeline"/>: inferences by outcome, fallback reasons, drops, and a
/// <see cref="Progress"/> counter plus <see cref="LastWindowAt"/> for the watchdog (the loop is alive when the
/// counter moves). Thread-safe (interlocked); no member allocates except <see cref="Snapshot"/>.
/// </summary>
public sealed class PipelineCounters
{
    private static readonly int ReasonCount = Enum.GetValues<FallbackReason>().Length;
    private readonly long[] _fallbackBy = new long[ReasonCount];
    private long _windows, _local, _cloud, _fallback, _escalated, _committed, _telemetryDropped, _casesQueued, _drift, _outputDropped, _outputFailures, _progress;
    private long _lastWindowTicks = -1;
    private double _lastDriftScore = double.NaN;

    public long Windows => Interlocked.Read(ref _windows);
    public long Local => Interlocked.Read(ref _local);
    public long Cloud => Interlocked.Read(ref _cloud);
    public long Fallback => Interlocked.Read(ref _fallback);
    public long Escalated => Interlocked.Read(ref _escalated);
    public long TelemetryCommitted => Interlocked.Read(ref _committed);
    /// <summary>Telemetry events not written because the outbox queue was full (results still reached the outputs).</summary>
    public long TelemetryDropped => Interlocked.Read(ref _telemetryDropped);
    public long FallbackCasesQueued => Interlocked.Read(ref _casesQueued);
    public long DriftSnapshots => Interlocked.Read(ref _drift);
    /// <summary>Events the outbox refused (budget full of never-dropped drift/update events, or the storage is full); the pipeline kept serving.</summary>
    public long OutboxRefused => Interlocked.Read(ref _outboxRefused);
    /// <summary>Results dropped (oldest first) because an output's queue was full.</summary>
    public long OutputDropped => Interlocked.Read(ref _outputDropped);
    public long OutputFailures => Interlocked.Read(ref _outputFailures);
    /// <summary>Increments on every window and every cloud answer: the watchdog's liveness signal.</summary>
    public long Progress => Interlocked.Read(ref _progress);
    public long FallbackFor(FallbackReason reason) => Interlocked.Read(ref _fallbackBy[(int)reason]);
    public DateTimeOffset? LastWindowAt
    {
        get
        {
            long t = Interlocked.Read(ref _lastWindowTicks);
            return t < 0 ? null : new DateTimeOffset(t, TimeSpan.Zero);
        }
    }
    /// <summary>Largest per-feature PSI at the last drift snapshot (NaN before one or without a reference profile).</summary>
    public double LastDriftScore => Volatile.Read(ref _lastDriftScore);

    internal void CountWindow(DateTimeOffset at)
    {
        Interlocked.Increment(ref _windows);
        Interlocked.Exchange(ref _lastWindowTicks, at.UtcTicks);
        Interlocked.Increment(ref _progress);
    }

    internal void CountDecision(DecidedBy by, FallbackReason reason)
    {
        switch (by)
        {
            case DecidedBy.Local: Interlocked.Increment(ref _local); break;
            case DecidedBy.Cloud: Interlocked.Increment(ref _cloud); Interlocked.Increment(ref _progress); break;
            default: Interlocked.Increment(ref _fallback); Interlocked.Increment(ref _fallbackBy[(int)reason]); break;
        }
    }

    internal void CountEscalated() => Interlocked.Increment(ref _escalated);
    internal void CountCommitted(long n) => Interlocked.Add(ref _committed, n);
    internal void CountTelemetryDropped() => Interlocked.Increment(ref _telemetryDropped);
    internal void CountCaseQueued() => Interlocked.Increment(ref _casesQueued);
    internal void CountDriftSnapshot() => Interlocked.Increment(ref _drift);
    internal void CountOutboxRefused() => Interlocked.Increment(ref _outboxRefused);
    private long _outboxRefused;
    internal void CountOutputDropped() => Interlocked.Increment(ref _outputDropped);
    internal void CountOutputFailure() => Interlocked.Increment(ref _outputFailures);
    internal void SetDriftScore(double score) => Volatile.Write(ref _lastDriftScore, score);

    public PipelineCountersSnapshot Snapshot()
    {
        var by = new Dictionary<FallbackReason, long>();
        foreach (var r in Enum.GetValues<FallbackReason>()) if (r != FallbackReason.None) by[r] = FallbackFor(r);
        long decided = Local + Cloud + Fallback;
        return new PipelineCountersSnapshot(Windows, Local, Cloud, Fallback, by, Escalated, TelemetryCommitted, TelemetryDropped,
            FallbackCasesQueued, DriftSnapshots, OutputDropped, OutputFailures, decided == 0 ? 0 : (double)Fallback / decided,
            LastDriftScore, LastWindowAt, Progress);
    }
}
