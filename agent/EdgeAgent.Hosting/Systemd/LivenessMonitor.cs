namespace EdgeAgent.Hosting.Systemd;

/// <summary>
/// The loops whose progress decides whether the systemd watchdog is fed (DESIGN §9): each long-running
/// loop (pipeline, MQTT) registers a <see cref="LivenessSource"/> and calls <see cref="LivenessSource.Beat"/>
/// every time it makes progress. If any source stays silent longer than its allowed silence, the watchdog
/// stops pinging and systemd restarts the agent.
/// </summary>
/// <remarks>Thread-safe. Registration is rare; <see cref="LivenessSource.Beat"/> is lock-free and allocation-free.</remarks>
public sealed class LivenessMonitor(TimeProvider time)
{
    private readonly object _gate = new();
    private LivenessSource[] _sources = [];
    private bool _everRegistered;

    /// <summary>
    /// False until the first loop registers. Before that nothing can vouch for the agent, so the watchdog must not
    /// claim health (a start-up that hangs before the pipeline exists would otherwise be fed forever).
    /// </summary>
    public bool AnySourceRegistered => Volatile.Read(ref _everRegistered);

    public TimeProvider Time { get; } = time;

    /// <summary>Registers a loop. It counts as alive from now until <paramref name="maxSilence"/> passes without a beat.</summary>
    public LivenessSource Register(string name, TimeSpan maxSilence)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(maxSilence, TimeSpan.Zero);
        var source = new LivenessSource(this, name, maxSilence);
        lock (_gate) _sources = [.. _sources, source];
        Volatile.Write(ref _everRegistered, true);
        return source;
    }

    internal void Remove(LivenessSource source)
    {
        lock (_gate) _sources = [.. _sources.Where(s => s != source)];
    }

    public IReadOnlyList<LivenessSource> Sources => Volatile.Read(ref _sources);

    /// <summary>Names of the sources that have been silent too long (empty when all are alive).</summary>
    public IReadOnlyList<string> StalledSources()
    {
        long now = Time.GetTimestamp();
        List<string>? stalled = null;
        foreach (var s in Volatile.Read(ref _sources))
            if (Time.GetElapsedTime(s.LastBeatTimestamp, now) > s.MaxSilence) (stalled ??= []).Add(s.Name);
        return stalled ?? (IReadOnlyList<string>)[];
    }
}

/// <summary>One registered loop. Dispose it when the loop ends normally (it then no longer counts).</summary>
public sealed class LivenessSource : IDisposable
{
    private readonly LivenessMonitor _monitor;
    private long _lastBeat;

    internal LivenessSource(LivenessMonitor monitor, string name, TimeSpan maxSilence)
    {
        _monitor = monitor;
        Name = name;
        MaxSilence = maxSilence;
        _lastBeat = monitor.Time.GetTimestamp();
    }

    public string Name { get; }
    public TimeSpan MaxSilence { get; }
    internal long LastBeatTimestamp => Volatile.Read(ref _lastBeat);

    /// <summary>Records progress. Safe from any thread; no allocation, no lock.</summary>
    public void Beat() => Volatile.Write(ref _lastBeat, _monitor.Time.GetTimestamp());

    public void Dispose() => _monitor.Remove(this);
}
