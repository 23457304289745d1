using EdgeAgent.Sensors.Sampling;

namespace EdgeAgent.Sensors.Windowing;

/// <summary>Verdict on one sample's time relative to the previous one.</summary>
public enum SampleTiming
{
    /// <summary>Normal spacing (or first sample).</summary>
    InSequence,
    /// <summary>More than the gap threshold after the previous sample: the window must restart.</summary>
    Gap,
    /// <summary>Earlier than the previous sample: the sample is rejected.</summary>
    WentBackwards,
}

/// <summary>
/// Checks sample spacing against the nominal rate: detects gaps larger than
/// <c>gapPeriods</c> sample periods and tracks the observed rate (mean of the first 32 intervals, then an
/// exponentially weighted mean interval with weight 1/32; gaps excluded), raising a counted warning when it leaves ±tolerance of the nominal rate.
/// </summary>
/// <remarks>Not thread-safe (one per pipeline). Allocation-free. Without a nominal rate it still
/// tracks the observed rate and rejects backward time, but cannot detect gaps.</remarks>
public sealed class SampleTimingMonitor
{
    // 1/32: about the last 32 intervals dominate — responsive, yet jitter of single samples averages out.
    private const double Smoothing = 1.0 / 32;
    private const int WarmUpIntervals = 32;
    private readonly SensorStats _stats;
    private readonly double _nominalPeriodNs;
    private readonly double _gapThresholdNs;
    private readonly double _tolerance;
    private readonly double? _nominalRateHz;
    private long _lastNs = long.MinValue;
    private double _meanIntervalNs;
    private long _intervals;
    private bool _offNominal;

    /// <param name="nominalRateHz">Expected rate, or null when unknown/event driven.</param>
    /// <param name="gapPeriods">An interval larger than this many nominal periods is a gap (must be &gt; 1).</param>
    /// <param name="rateTolerance">Relative band around the nominal rate before a warning is counted (0.1 = ±10 %).</param>
    /// <param name="stats">Where gaps, backward times, the observed rate and rate warnings are recorded.</param>
    public SampleTimingMonitor(double? nominalRateHz, double gapPeriods, double rateTolerance, SensorStats stats)
    {
        if (nominalRateHz is <= 0) throw new ArgumentOutOfRangeException(nameof(nominalRateHz), "nominal rate must be positive");
        if (gapPeriods <= 1) throw new ArgumentOutOfRangeException(nameof(gapPeriods), "a gap must be more than one sample period");
        _nominalRateHz = nominalRateHz;
        _nominalPeriodNs = nominalRateHz is { } hz ? 1e9 / hz : 0;
        _gapThresholdNs = _nominalPeriodNs * gapPeriods;
        _tolerance = rateTolerance;
        _stats = stats;
        stats.SetNominalRate(nominalRateHz);
    }

    /// <summary>Observed rate in Hz (null until an interval was seen).</summary>
    public double? ObservedRateHz => _intervals == 0 ? null : 1e9 / _meanIntervalNs;

    /// <summary>True while the observed rate is outside the tolerated band (after warm-up).</summary>
    public bool IsOffNominal => _offNominal;

    /// <summary>Classifies a sample time and updates the rate estimate.</summary>
    public SampleTiming Observe(long timeNs)
    {
        if (_lastNs == long.MinValue)
        {
            _lastNs = timeNs;
            return SampleTiming.InSequence;
        }
        long interval = timeNs - _lastNs;
        if (interval < 0)
        {
            _stats.CountBad(BadSampleReason.TimeWentBackwards);
            return SampleTiming.WentBackwards;
        }
        _lastNs = timeNs;
        if (_gapThresholdNs > 0 && interval > _gapThresholdNs)
        {
            _stats.CountGap();
            return SampleTiming.Gap;
        }
        // Plain running mean during warm-up (so the first interval does not dominate), then an EWMA.
        double weight = _intervals < WarmUpIntervals ? 1.0 / (_intervals + 1) : Smoothing;
        _meanIntervalNs += weight * (interval - _meanIntervalNs);
        _intervals++;
        if (_meanIntervalNs > 0)
        {
            double observed = 1e9 / _meanIntervalNs;
            _stats.SetObservedRate(observed);
            if (_nominalRateHz is { } nominal && _intervals >= WarmUpIntervals)
            {
                bool off = Math.Abs(observed - nominal) > _tolerance * nominal;
                if (off && !_offNominal) _stats.CountRateWarning();
                if (off != _offNominal) _stats.SetRateOffNominal(off);
                _offNominal = off;
            }
        }
        return SampleTiming.InSequence;
    }
}
