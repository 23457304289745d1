using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Sensors.Windowing;
using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Sketches.Profiles;

namespace EdgeAgent.Pipeline.Drift;

/// <summary>Settings of the <see cref="DriftMonitor"/>.</summary>
public sealed record DriftMonitorOptions
{
    /// <summary>A snapshot per feature is taken when this much (wall-clock) time passed since the accumulation started ...</summary>
    public TimeSpan SnapshotInterval { get; init; } = TimeSpan.FromMinutes(15);
    /// <summary>... or after this many windows (null = time only). Useful for fast replays and tests.</summary>
    public long? SnapshotEveryWindows { get; init; }
    /// <summary>KLL k (200: ≤1.33 % rank error, ≈2.5 KB; DESIGN.md §7).</summary>
    public int K { get; init; } = KllFloatsSketch.DefaultK;
    public DriftThresholds Thresholds { get; init; } = DriftThresholds.Default;
    /// <summary>Reference quantile range outside which a value counts towards the out-of-distribution score.</summary>
    public double OodTailRank { get; init; } = 0.005;
    /// <summary>Compaction randomness (seed it for reproducible sketches).</summary>
    public Random? Random { get; init; }
    /// <summary>
    /// Told about every snapshot as it is taken (live views such as <c>edgeagent drift show</c> and metrics).
    /// Called on the inference loop: keep it cheap, do not block, and do not keep the list beyond copying it.
    /// </summary>
    public Action<IReadOnlyList<DriftWindowSnapshot>>? SnapshotTaken { get; init; }
}

/// <summary>
/// Drift accumulators per input feature (one per window channel, named by the window spec), fed from every
/// model input window, snapshotted periodically into <see cref="DriftWindowSnapshot"/>s and scored against the
/// model's reference profile when one is given.
/// </summary>
/// <remarks>
/// <para><b>What is sketched:</b> the model input (after the window's normalization), per channel, so it is
/// comparable with a reference profile built from the training windows. Overlapping windows (hop &lt; length)
/// contribute only the samples that are new since the previous window, so every sample counts once.</para>
/// <para><b>Threading:</b> not thread-safe; owned by the inference loop. <see cref="LastScore"/> may be read from
/// any thread.</para>
/// </remarks>
public sealed class DriftMonitor
{
    private readonly string _model;
    private readonly WindowSpec _spec;
    private readonly ReferenceProfile? _reference;
    private readonly DriftMonitorOptions _options;
    private readonly TimeProvider _time;
    private readonly FeatureAccumulator?[] _features;
    private readonly float[] _low;
    private readonly float[] _high;
    private readonly bool _hasBounds;
    private long _previousLastSampleNs = long.MinValue;
    private long _windows;
    private DateTimeOffset _start;
    private DateTimeOffset _end;
    private double _lastScore = double.NaN;

    public DriftMonitor(string model, WindowSpec spec, ReferenceProfile? reference, DriftMonitorOptions? options = null, TimeProvider? time = null)
    {
        _model = model;
        _spec = spec;
        _reference = reference;
        _options = options ?? new DriftMonitorOptions();
        _time = time ?? TimeProvider.System;
        _features = new FeatureAccumulator?[spec.Channels.Count];
        _low = new float[spec.Channels.Count];
        _high = new float[spec.Channels.Count];
        if (reference is not null)
        {
            for (int c = 0; c < spec.Channels.Count; c++)
            {
                if (reference.TryGetFeature(spec.Channels[c], out var f) && !f.Sketch.IsEmpty)
                {
                    _low[c] = f.Sketch.GetQuantile(_options.OodTailRank);
                    _high[c] = f.Sketch.GetQuantile(1 - _options.OodTailRank);
                    _hasBounds = true;
                }
                else
                {
                    _low[c] = float.NegativeInfinity;
                    _high[c] = float.PositiveInfinity;
                }
            }
        }
        _start = _time.GetUtcNow();
    }

    /// <summary>Largest PSI over the features at the last snapshot (NaN before the first scored snapshot or without a reference).</summary>
    public double LastScore => Volatile.Read(ref _lastScore);

    /// <summary>Windows accumulated since the last snapshot.</summary>
    public long PendingWindows => _windows;

    /// <summary>
    /// Fraction of the window's values outside the reference profile's [q(tail), q(1 − tail)] range of their
    /// channel; 0 without a reference profile. Allocation-free.
    /// </summary>
    public float OutOfDistributionScore(ReadOnlySpan<float> window)
    {
        if (!_hasBounds) return 0;
        int length = _spec.Length, channels = _spec.Channels.Count, outside = 0;
        bool channelsFirst = _spec.Layout == WindowLayout.ChannelsFirst;
        for (int c = 0; c < channels; c++)
        {
            float lo = _low[c], hi = _high[c];
            for (int i = 0; i < length; i++)
            {
                float v = channelsFirst ? window[c * length + i] : window[i * channels + c];
                if (v < lo || v > hi) outside++;
            }
        }
        return (float)outside / (length * channels);
    }

    /// <summary>Adds a window's new samples to the accumulators.</summary>
    public void Add(ReadOnlySpan<float> window, in WindowInfo info)
    {
        int length = _spec.Length, channels = _spec.Channels.Count;
        // Consecutive overlapping windows share Length − Hop samples; only the newest Hop are new.
        bool overlaps = _spec.Hop < length && info.FirstSampleTimeNs <= _previousLastSampleNs;
        int fresh = overlaps ? _spec.Hop : length;
        _previousLastSampleNs = info.LastSampleTimeNs;
        bool channelsFirst = _spec.Layout == WindowLayout.ChannelsFirst;
        for (int c = 0; c < channels; c++)
        {
            var acc = _features[c] ??= new FeatureAccumulator(_options.K, _options.Random);
            if (channelsFirst)
            {
                acc.Add(window.Slice(c * length + length - fresh, fresh));
            }
            else
            {
                for (int i = length - fresh; i < length; i++) acc.Add(window[i * channels + c]);
            }
        }
        if (_windows == 0) _start = info.LastWallTime - TimeSpan.FromTicks(Math.Max(0, (info.LastSampleTimeNs - info.FirstSampleTimeNs) / 100));
        _end = info.LastWallTime;
        _windows++;
    }

    /// <summary>True when a snapshot is due by time or window count.</summary>
    public bool SnapshotDue()
    {
        if (_windows == 0) return false;
        if (_options.SnapshotEveryWindows is { } every && _windows >= every) return true;
        return _time.GetUtcNow() - _start >= _options.SnapshotInterval;
    }

    /// <summary>
    /// Snapshots every feature (scored against the reference when there is one), updates <see cref="LastScore"/>
    /// and starts new accumulators. Returns an empty list when nothing was accumulated.
    /// </summary>
    public IReadOnlyList<DriftWindowSnapshot> TakeSnapshot()
    {
        if (_windows == 0) return [];
        var snapshots = new List<DriftWindowSnapshot>(_features.Length);
        double worst = double.NaN;
        for (int c = 0; c < _features.Length; c++)
        {
            var acc = _features[c];
            if (acc is null) continue;
            string name = _spec.Channels[c];
            DriftScore? score = null;
            if (_reference is not null && _reference.TryGetFeature(name, out var f))
            {
                var report = DriftAssessment.Assess(name, FeatureAccumulator.Restore(f.Statistics, f.Sketch), acc, _options.Thresholds);
                if (report.Psi is { } psi)
                {
                    score = new DriftScore(psi.Value, report.PsiBand.ToString().ToLowerInvariant(), report.Ks?.Statistic ?? 0,
                        report.Ks?.DriftDetected ?? false, report.Wasserstein?.Normalized ?? 0, report.SufficientData, report.Drifted);
                    worst = double.IsNaN(worst) ? psi.Value : Math.Max(worst, psi.Value);
                }
            }
            var stats = acc.Statistics;
            snapshots.Add(new DriftWindowSnapshot
            {
                Model = _model, Feature = name, WindowStart = _start, WindowEnd = _end,
                Count = stats.Count, Mean = stats.Mean, M2 = stats.M2, StdDev = acc.Moments.PopulationStandardDeviation,
                NaN = stats.NaNCount, PositiveInfinity = stats.PositiveInfinityCount, NegativeInfinity = stats.NegativeInfinityCount,
                K = acc.Sketch.K, Kll = Convert.ToBase64String(acc.Sketch.ToByteArray()), Score = score,
            });
            _features[c] = null;
        }
        if (!double.IsNaN(worst)) Volatile.Write(ref _lastScore, worst);
        _windows = 0;
        _start = _end;
        _options.SnapshotTaken?.Invoke(snapshots);
        return snapshots;
    }
}
