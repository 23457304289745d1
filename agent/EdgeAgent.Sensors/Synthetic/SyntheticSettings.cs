namespace EdgeAgent.Sensors.Synthetic;

/// <summary>Motion classes the synthetic accelerometer can imitate (values in g).</summary>
public enum SyntheticActivity
{
    /// <summary>At rest: gravity on z, sensor noise σ = 0.01 g.</summary>
    Idle,
    /// <summary>1.8 Hz gait: x ±0.25 g, y ±0.15 g, z 1 g ±0.35 g at twice the step rate, noise σ = 0.03 g.</summary>
    Walk,
    /// <summary>2.8 Hz gait: x ±0.8 g, y ±0.5 g, z 1 g ±1.2 g, noise σ = 0.08 g.</summary>
    Run,
    /// <summary>Machine at rest with a bearing-fault vibration at 0.37 × sample rate, ±0.4 g on all axes, noise σ = 0.05 g.</summary>
    VibrationFault,
}

/// <summary>One stretch of a class schedule.</summary>
public sealed record SyntheticSegment(SyntheticActivity Activity, double Seconds);

/// <summary>Kinds of injected anomalies.</summary>
[Flags]
public enum SyntheticAnomalyKinds
{
    None = 0,
    /// <summary>One sample of one axis jumps by ±<see cref="SyntheticSettings.SpikeMagnitude"/>.</summary>
    Spike = 1,
    /// <summary>One axis repeats its value for <see cref="SyntheticSettings.StuckSamples"/> samples.</summary>
    Stuck = 2,
    /// <summary>One axis is NaN for <see cref="SyntheticSettings.NanBurstSamples"/> samples.</summary>
    NanBurst = 4,
    All = Spike | Stuck | NanBurst,
}

/// <summary>
/// Configuration of the seeded 3-axis accelerometer generator (channels <c>ax, ay, az</c>).
/// </summary>
/// <remarks>
/// <para><b>Drift</b> starts at <see cref="DriftStartSeconds"/>; τ seconds later every value v becomes
/// v × (1 + <see cref="DriftScalePerSecond"/>·τ) + <see cref="DriftMeanPerSecond"/>·τ. Drift draws no random
/// numbers, so the same seed with and without drift gives sample-for-sample related streams.</para>
/// <para><b>Anomalies</b> start with probability <see cref="AnomalyRatePerSecond"/> / rate per sample and
/// use a separate random stream, so enabling them changes only the affected samples.</para>
/// </remarks>
public sealed record SyntheticSettings
{
    public ulong Seed { get; init; } = 1;
    public double RateHz { get; init; } = 50;
    /// <summary>Class schedule, cycled. Default: 10 s each of idle, walk, run, vibration-fault.</summary>
    public IReadOnlyList<SyntheticSegment> Schedule { get; init; } =
    [
        new(SyntheticActivity.Idle, 10), new(SyntheticActivity.Walk, 10),
        new(SyntheticActivity.Run, 10), new(SyntheticActivity.VibrationFault, 10),
    ];
    /// <summary>Pace samples at <see cref="RateHz"/> on the time provider; false = as fast as possible.</summary>
    public bool RealTime { get; init; } = true;
    /// <summary>Stop after this many samples (null: run until cancelled).</summary>
    public long? MaxSamples { get; init; }

    public double DriftStartSeconds { get; init; }
    public double DriftMeanPerSecond { get; init; }
    public double DriftScalePerSecond { get; init; }

    public double AnomalyRatePerSecond { get; init; }
    public SyntheticAnomalyKinds AnomalyKinds { get; init; } = SyntheticAnomalyKinds.All;
    public float SpikeMagnitude { get; init; } = 8f;
    public int StuckSamples { get; init; } = 20;
    public int NanBurstSamples { get; init; } = 5;

    /// <summary>Every problem, one message each, with <paramref name="prefix"/> as the configuration path.</summary>
    public IReadOnlyList<string> Validate(string prefix = "sensors.synthetic")
    {
        var problems = new List<string>();
        if (!(RateHz > 0) || RateHz > 100_000) problems.Add($"{prefix}.rateHz: must be in (0, 100000] (is {RateHz})");
        if (Schedule.Count == 0) problems.Add($"{prefix}.schedule: needs at least one segment");
        foreach (var s in Schedule)
            if (!(s.Seconds > 0)) problems.Add($"{prefix}.schedule: segment '{s.Activity}' has {s.Seconds} s; must be positive");
        if (MaxSamples is < 0) problems.Add($"{prefix}.maxSamples: must not be negative");
        if (DriftStartSeconds < 0) problems.Add($"{prefix}.driftStartSeconds: must not be negative");
        if (AnomalyRatePerSecond < 0 || AnomalyRatePerSecond > RateHz) problems.Add($"{prefix}.anomalyRatePerSecond: must be in [0, rateHz]");
        if (StuckSamples < 1) problems.Add($"{prefix}.stuckSamples: must be at least 1");
        if (NanBurstSamples < 1) problems.Add($"{prefix}.nanBurstSamples: must be at least 1");
        return problems;
    }
}
