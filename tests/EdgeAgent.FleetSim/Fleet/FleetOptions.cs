namespace EdgeAgent.FleetSim.Fleet;

/// <summary>Which hub the fleet talks to.</summary>
public enum HubStoreKind
{
    Sqlite,
    Postgres,
}

/// <summary>One fleet run (the coordinator's command line).</summary>
public sealed record FleetOptions
{
    public required int Devices { get; init; }
    /// <summary>Synthetic accelerometer rate per device (the model's windows are 128 samples, hop 64).</summary>
    public double SampleRateHz { get; init; } = 50;
    /// <summary>Steady-state measurement window, after every device is connected and serving.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Store of the hub(s) this run starts.</summary>
    public HubStoreKind Store { get; init; } = HubStoreKind.Sqlite;
    /// <summary>Hub processes sharing one shared subscription (2+ needs PostgreSQL).</summary>
    public int HubInstances { get; init; } = 1;
    /// <summary>PostgreSQL with fsync and synchronous commit (default). Off: commits return before the WAL is on disk
    /// (a PostgreSQL crash loses nothing, an OS crash or power cut may lose the last commits the hub already acknowledged).</summary>
    public bool PostgresDurable { get; init; } = true;
    /// <summary>Worker processes (0 = one per 500 devices).</summary>
    public int Workers { get; init; }
    public TimeSpan DriftSnapshotInterval { get; init; } = TimeSpan.FromSeconds(30);
    public bool EnginePerDevice { get; init; }
    public int ConnectParallelism { get; init; } = 32;
    /// <summary>Where device state, logs and the worker reports go (deleted afterwards unless <see cref="KeepState"/>).</summary>
    public string? StateRoot { get; init; }
    public bool KeepState { get; init; }
    /// <summary>How long to wait for the hub to store everything after the devices drained.</summary>
    public TimeSpan IngestTimeout { get; init; } = TimeSpan.FromMinutes(3);
    /// <summary>Stop waiting for the hub when its stored count has not moved for this long.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Model bytes of the release rolled out during the window (default 1 MB, the figure). With a rollout the devices
    /// start without a model, install release 1.0.0 from a first rollout, then take this one while telemetry flows.
    /// 0: no hub releases at all; every device serves the built-in model (the telemetry-only runs).
    /// </summary>
    public long RolloutModelBytes { get; init; } = 1_000_000;
    /// <summary>The devices' health window before a commit (agent <c>updates.observeWindow</c>).</summary>
    public TimeSpan ObserveWindow { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Inferences the health window needs (agent <c>updates.observeMinCalls</c>); one per 6.4 s at 10 Hz.</summary>
    public int ObserveMinCalls { get; init; } = 3;
    /// <summary>The devices' poll interval (agent <c>updates.pollInterval</c>); the retained fleet hint starts checks sooner.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMinutes(15);
    /// <summary>Longest wait for one rollout to end.</summary>
    public TimeSpan RolloutTimeout { get; init; } = TimeSpan.FromMinutes(15);

    public bool WithRollout => RolloutModelBytes > 0;

    /// <summary>The rollout step's <c>minDevices</c>: 5 % of the fleet (at least one).</summary>
    public int RolloutQuorum => Math.Max(1, Devices / 20);

    public int EffectiveWorkers => Workers > 0 ? Workers : Math.Max(1, (Devices + 499) / 500);

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Devices < 1) problems.Add($"--devices {Devices}: at least one device");
        if (SampleRateHz is <= 0 or > 1000) problems.Add($"--rate {SampleRateHz}: between 0 and 1000 Hz");
        if (Duration <= TimeSpan.Zero) problems.Add("--duration: must be positive");
        if (HubInstances < 1) problems.Add($"--hub-instances {HubInstances}: at least one");
        if (HubInstances > 1 && Store != HubStoreKind.Postgres)
            problems.Add($"--hub-instances {HubInstances} needs --start-hub postgres: SQLite is one writer on one machine, so instances cannot share it");
        if (Workers < 0) problems.Add($"--workers {Workers}: 0 (automatic) or more");
        if (Workers > Devices) problems.Add($"--workers {Workers}: more workers than devices");
        if (RolloutModelBytes is < 0 or > 64_000_000) problems.Add($"--rollout-bytes {RolloutModelBytes}: 0 (no rollout) up to 64,000,000");
        if (WithRollout && EnginePerDevice) problems.Add("--engine-per-device: with a rollout every device already has its own session (updates swap models inside it)");
        if (ObserveMinCalls < 1) problems.Add($"--observe-min-calls {ObserveMinCalls}: at least 1");
        if (ObserveWindow <= TimeSpan.Zero) problems.Add("--observe-window: must be positive");
        return problems;
    }
}
