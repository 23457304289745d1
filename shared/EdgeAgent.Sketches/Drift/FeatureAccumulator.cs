using EdgeAgent.Sketches.Kll;

namespace EdgeAgent.Sketches.Drift;

/// <summary>
/// Everything drift detection keeps about one input feature over a window: a KLL sketch of the finite
/// values, their count/mean/M2, and separate counters for NaN and ±infinity, which never enter the sketch
/// or the moments (a burst of NaN is itself a signal, reported on its own instead of skewing the ranks).
/// </summary>
/// <remarks>
/// Not thread-safe: one writer (the pipeline stage that owns the window). <see cref="Merge"/> leaves the
/// other accumulator untouched, so windows and devices can be merged into coarser views.
/// </remarks>
public sealed class FeatureAccumulator
{
    /// <summary>Creates an empty accumulator.</summary>
    /// <param name="k">KLL accuracy parameter (default 200: about 1.33 % rank error).</param>
    /// <param name="random">Compaction randomness; pass a seeded instance for reproducible sketches.</param>
    public FeatureAccumulator(int k = KllFloatsSketch.DefaultK, Random? random = null)
    {
        Sketch = new KllFloatsSketch(k, random);
    }

    private FeatureAccumulator(KllFloatsSketch sketch, RunningMoments moments, long nan, long posInf, long negInf)
    {
        Sketch = sketch;
        Moments = moments;
        NaNCount = nan;
        PositiveInfinityCount = posInf;
        NegativeInfinityCount = negInf;
    }

    /// <summary>Sketch of the finite values. Owned by this accumulator: do not update it directly.</summary>
    public KllFloatsSketch Sketch { get; }

    /// <summary>Count, mean and M2 of the finite values.</summary>
    public RunningMoments Moments { get; private set; }

    /// <summary>Number of NaN values seen.</summary>
    public long NaNCount { get; private set; }

    /// <summary>Number of +∞ values seen.</summary>
    public long PositiveInfinityCount { get; private set; }

    /// <summary>Number of −∞ values seen.</summary>
    public long NegativeInfinityCount { get; private set; }

    /// <summary>Total values offered, finite or not.</summary>
    public long TotalCount => Moments.Count + NaNCount + PositiveInfinityCount + NegativeInfinityCount;

    /// <summary>Summary numbers (everything except the sketch).</summary>
    public FeatureStatistics Statistics =>
        new(Moments.Count, Moments.Mean, Moments.M2, NaNCount, PositiveInfinityCount, NegativeInfinityCount);

    /// <summary>Adds one value; NaN and ±∞ are counted, not sketched.</summary>
    public void Add(float value)
    {
        if (float.IsFinite(value))
        {
            Sketch.Update(value);
            Moments = Moments.Add(value);
        }
        else if (float.IsNaN(value))
        {
            NaNCount++;
        }
        else if (value > 0)
        {
            PositiveInfinityCount++;
        }
        else
        {
            NegativeInfinityCount++;
        }
    }

    /// <summary>Adds every value of <paramref name="values"/>.</summary>
    public void Add(ReadOnlySpan<float> values)
    {
        foreach (float v in values)
        {
            Add(v);
        }
    }

    /// <summary>Merges another accumulator (another window, shard or device) into this one.</summary>
    public void Merge(FeatureAccumulator other)
    {
        ArgumentNullException.ThrowIfNull(other);
        var otherMoments = other.Moments;
        Sketch.Merge(other.Sketch);
        Moments = Moments.Merge(otherMoments);
        NaNCount += other.NaNCount;
        PositiveInfinityCount += other.PositiveInfinityCount;
        NegativeInfinityCount += other.NegativeInfinityCount;
    }

    /// <summary>
    /// Rebuilds an accumulator from stored parts (a profile or a drift snapshot). The sketch is taken over
    /// (not copied) and must describe exactly the finite values the statistics count.
    /// </summary>
    /// <exception cref="ArgumentException">The statistics and the sketch disagree on the count, or a count is negative.</exception>
    public static FeatureAccumulator Restore(FeatureStatistics statistics, KllFloatsSketch sketch)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        ArgumentNullException.ThrowIfNull(sketch);
        string? problem = statistics.Validate(sketch);
        if (problem is not null)
        {
            throw new ArgumentException(problem, nameof(statistics));
        }

        return new FeatureAccumulator(sketch, new RunningMoments(statistics.Count, statistics.Mean, statistics.M2),
            statistics.NaNCount, statistics.PositiveInfinityCount, statistics.NegativeInfinityCount);
    }
}

/// <summary>Summary numbers of one feature: finite count, mean and M2 (Welford), and non-finite counters.</summary>
public sealed record FeatureStatistics(long Count, double Mean, double M2, long NaNCount, long PositiveInfinityCount, long NegativeInfinityCount)
{
    /// <summary>Returns a description of the first inconsistency with <paramref name="sketch"/>, or null when consistent.</summary>
    internal string? Validate(KllFloatsSketch sketch)
    {
        if (Count < 0 || NaNCount < 0 || PositiveInfinityCount < 0 || NegativeInfinityCount < 0)
        {
            return $"counts must not be negative (count {Count}, NaN {NaNCount}, +inf {PositiveInfinityCount}, -inf {NegativeInfinityCount})";
        }

        if (Count != sketch.N)
        {
            return $"statistics count {Count} differs from the sketch's N {sketch.N}; both must count the same finite values";
        }

        if (!double.IsFinite(Mean) || !double.IsFinite(M2) || M2 < 0)
        {
            return $"mean {Mean} and M2 {M2} must be finite and M2 non-negative";
        }

        if (Count > 0 && (Mean < sketch.MinItem || Mean > sketch.MaxItem))
        {
            // Allow for rounding: the mean of floats is computed in double and may sit a hair outside.
            double slack = Math.Max(Math.Abs(sketch.MinItem), Math.Abs(sketch.MaxItem)) * 1e-9;
            if (Mean < sketch.MinItem - slack || Mean > sketch.MaxItem + slack)
            {
                return $"mean {Mean} lies outside the sketch's range [{sketch.MinItem}, {sketch.MaxItem}]";
            }
        }

        return null;
    }
}
