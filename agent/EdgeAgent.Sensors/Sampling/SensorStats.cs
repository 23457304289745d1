namespace EdgeAgent.Sensors.Sampling;

/// <summary>
/// Live counters of one source and the pipeline stages behind it.
/// </summary>
/// <remarks>Thread-safe: writers use interlocked operations, so sources, socket client loops and the
/// windower may update it concurrently; readers take a <see cref="Snapshot"/>. No method allocates
/// except <see cref="Snapshot"/>.</remarks>
public sealed class SensorStats
{
    private static readonly int ReasonCount = Enum.GetValues<BadSampleReason>().Length;
    private readonly long[] _bad = new long[ReasonCount];
    private long _accepted;
    private long _dropped;
    private long _gaps;
    private long _lostEvents;
    private long _rejectedClients;
    private long _windows;
    private long _rateWarnings;
    private long _observedRateMilliHz = -1;
    private long _nominalRateMilliHz = -1;
    private int _rateOffNominal;

    /// <summary>Counts one bad input of the given kind.</summary>
    public void CountBad(BadSampleReason reason) => Interlocked.Increment(ref _bad[(int)reason]);

    /// <summary>Number of bad inputs of the given kind so far.</summary>
    public long Bad(BadSampleReason reason) => Interlocked.Read(ref _bad[(int)reason]);

    /// <summary>Total bad inputs over all reasons.</summary>
    public long BadTotal
    {
        get
        {
            long total = 0;
            for (int i = 0; i < _bad.Length; i++) total += Interlocked.Read(ref _bad[i]);
            return total;
        }
    }

    /// <summary>Samples produced by the source.</summary>
    public long Accepted => Interlocked.Read(ref _accepted);
    /// <summary>Samples dropped by a drop-oldest queue because the consumer was behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    /// <summary>Gaps larger than the configured number of sample periods (each reset the window).</summary>
    public long Gaps => Interlocked.Read(ref _gaps);
    /// <summary>Events the kernel reported lost (GPIO event sequence number jumps: buffer overflow).</summary>
    public long LostEvents => Interlocked.Read(ref _lostEvents);
    /// <summary>Socket clients refused because the client limit was reached.</summary>
    public long RejectedClients => Interlocked.Read(ref _rejectedClients);
    /// <summary>Complete windows written for inference.</summary>
    public long Windows => Interlocked.Read(ref _windows);
    /// <summary>Times the observed rate left the tolerated band around the nominal rate.</summary>
    public long RateWarnings => Interlocked.Read(ref _rateWarnings);

    /// <summary>Observed sample rate in Hz, or null before enough samples were seen.</summary>
    public double? ObservedRateHz
    {
        get
        {
            long v = Interlocked.Read(ref _observedRateMilliHz);
            return v < 0 ? null : v / 1000.0;
        }
    }

    /// <summary>Expected sample rate the observed rate is checked against, or null when unknown.</summary>
    public double? NominalRateHz
    {
        get
        {
            long v = Interlocked.Read(ref _nominalRateMilliHz);
            return v < 0 ? null : v / 1000.0;
        }
    }

    /// <summary>True while the observed rate is outside the tolerated band around <see cref="NominalRateHz"/>.</summary>
    public bool RateOffNominal => Volatile.Read(ref _rateOffNominal) != 0;

    internal void SetNominalRate(double? hz) => Interlocked.Exchange(ref _nominalRateMilliHz, hz is { } v ? (long)Math.Round(v * 1000.0) : -1);
    internal void SetRateOffNominal(bool off) => Volatile.Write(ref _rateOffNominal, off ? 1 : 0);
    internal void CountAccepted() => Interlocked.Increment(ref _accepted);
    internal void CountDropped() => Interlocked.Increment(ref _dropped);
    internal void CountGap() => Interlocked.Increment(ref _gaps);
    internal void CountLostEvents(long count) => Interlocked.Add(ref _lostEvents, count);
    internal void CountRejectedClient() => Interlocked.Increment(ref _rejectedClients);
    internal void CountWindow() => Interlocked.Increment(ref _windows);
    internal void CountRateWarning() => Interlocked.Increment(ref _rateWarnings);
    internal void SetObservedRate(double hz) => Interlocked.Exchange(ref _observedRateMilliHz, (long)Math.Round(hz * 1000.0));

    /// <summary>A consistent-enough copy of every counter for reporting (each counter is read atomically).</summary>
    public SensorStatsSnapshot Snapshot()
    {
        var bad = new Dictionary<BadSampleReason, long>();
        foreach (var reason in Enum.GetValues<BadSampleReason>()) bad[reason] = Bad(reason);
        return new SensorStatsSnapshot(Accepted, bad, Dropped, Gaps, LostEvents, RejectedClients, Windows,
            RateWarnings, NominalRateHz, ObservedRateHz, RateOffNominal);
    }
}

/// <summary>Point-in-time copy of <see cref="SensorStats"/>.</summary>
public sealed record SensorStatsSnapshot(
    long Accepted,
    IReadOnlyDictionary<BadSampleReason, long> Bad,
    long Dropped,
    long Gaps,
    long LostEvents,
    long RejectedClients,
    long Windows,
    long RateWarnings,
    double? NominalRateHz,
    double? ObservedRateHz,
    bool RateOffNominal);
