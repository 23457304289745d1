namespace EdgeAgent.Sketches.Kll;

/// <summary>
/// A weighted empirical distribution: distinct-or-not items in ascending order with cumulative weights.
/// Built from a KLL sketch (each retained item weighs 2^level) or exactly from raw samples (each weighs 1),
/// so drift metrics run the same code on both and tests can compare them directly.
/// </summary>
/// <remarks>Immutable and safe to share between threads.</remarks>
public sealed class KllSortedView
{
    private readonly float[] _items;
    private readonly long[] _cumulativeWeights;

    private KllSortedView(float[] items, long[] cumulativeWeights, float min, float max, double rankErrorBound, double massErrorBound)
    {
        MassErrorBound = massErrorBound;
        _items = items;
        _cumulativeWeights = cumulativeWeights;
        TotalWeight = cumulativeWeights.Length == 0 ? 0 : cumulativeWeights[^1];
        Min = min;
        Max = max;
        RankErrorBound = rankErrorBound;
    }

    /// <summary>Items in ascending order (duplicates possible).</summary>
    public ReadOnlySpan<float> Items => _items;

    /// <summary>Cumulative weight up to and including the item at the same index.</summary>
    public ReadOnlySpan<long> CumulativeWeights => _cumulativeWeights;

    /// <summary>Total weight: the number of values the distribution stands for (N).</summary>
    public long TotalWeight { get; }

    /// <summary>Exact minimum of the underlying stream (NaN when empty).</summary>
    public float Min { get; }

    /// <summary>Exact maximum of the underlying stream (NaN when empty).</summary>
    public float Max { get; }

    /// <summary>
    /// Bound on |estimated rank − true rank| for any query: 0 for an exact view; for a sketch view, the
    /// DataSketches single-sided normalized rank error at the sketch's min K (a 99th-percentile bound).
    /// </summary>
    public double RankErrorBound { get; }

    /// <summary>
    /// Bound on the error of the estimated mass between two split points: 0 for an exact view; for a sketch
    /// view, the DataSketches double-sided (PMF) normalized rank error at min K (99th percentile), which is
    /// tighter than twice <see cref="RankErrorBound"/>.
    /// </summary>
    public double MassErrorBound { get; }

    /// <summary>True when the view stands for no values.</summary>
    public bool IsEmpty => TotalWeight == 0;

    /// <summary>Builds an exact view of raw samples. NaN values are not allowed (filter them first).</summary>
    /// <exception cref="ArgumentException">A sample is NaN.</exception>
    public static KllSortedView FromSamples(ReadOnlySpan<float> samples)
    {
        var items = samples.ToArray();
        foreach (float v in items)
        {
            if (float.IsNaN(v))
            {
                throw new ArgumentException("samples must not contain NaN; count NaN separately (FeatureAccumulator does)", nameof(samples));
            }
        }

        Array.Sort(items);
        var cumulative = new long[items.Length];
        for (int i = 0; i < items.Length; i++)
        {
            cumulative[i] = i + 1;
        }

        return items.Length == 0
            ? new KllSortedView(items, cumulative, float.NaN, float.NaN, 0, 0)
            : new KllSortedView(items, cumulative, items[0], items[^1], 0, 0);
    }

    internal static KllSortedView FromWeighted(float[] items, long[] weights, float min, float max, double rankErrorBound, double massErrorBound)
    {
        Array.Sort(items, weights);
        for (int i = 1; i < weights.Length; i++)
        {
            weights[i] += weights[i - 1];
        }

        return new KllSortedView(items, weights, min, max, rankErrorBound, massErrorBound);
    }

    /// <summary>
    /// Normalized rank of <paramref name="value"/>: the fraction of weight at items ≤ value (inclusive)
    /// or &lt; value (exclusive). NaN when empty.
    /// </summary>
    public double GetRank(float value, bool inclusive = true)
    {
        if (IsEmpty)
        {
            return double.NaN;
        }

        int count = inclusive ? CountAtMost(value) : CountBelow(value);
        return count == 0 ? 0 : (double)_cumulativeWeights[count - 1] / TotalWeight;
    }

    /// <summary>Weight of items ≤ <paramref name="value"/> (inclusive CDF numerator).</summary>
    public long WeightAtMost(float value)
    {
        int count = CountAtMost(value);
        return count == 0 ? 0 : _cumulativeWeights[count - 1];
    }

    /// <summary>
    /// Quantile at normalized rank <paramref name="rank"/> ∈ [0, 1]. Inclusive: the smallest item whose
    /// cumulative weight reaches ceil(rank·N). Exclusive: the smallest item whose cumulative weight exceeds floor(rank·N).
    /// NaN when empty.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">rank is outside [0, 1] or NaN.</exception>
    public float GetQuantile(double rank, bool inclusive = true)
    {
        if (!(rank >= 0 && rank <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(rank), rank, "normalized rank must be in [0, 1]");
        }

        if (IsEmpty)
        {
            return float.NaN;
        }

        double naturalRank = rank * TotalWeight;
        long target;
        int index;
        if (inclusive)
        {
            target = (long)Math.Ceiling(naturalRank);
            index = FirstIndexWithCumulativeAtLeast(target);
        }
        else
        {
            target = (long)Math.Floor(naturalRank);
            index = FirstIndexWithCumulativeAtLeast(target + 1);
        }

        return index >= _items.Length ? _items[^1] : _items[index];
    }

    /// <summary>
    /// Inclusive CDF at each split point, plus a final 1: result[i] = fraction of weight ≤ splitPoints[i]
    /// (split points must be strictly increasing and not NaN). Empty view: an empty array.
    /// </summary>
    /// <exception cref="ArgumentException">Split points are NaN or not strictly increasing.</exception>
    public double[] GetCdf(ReadOnlySpan<float> splitPoints)
    {
        ValidateSplitPoints(splitPoints);
        if (IsEmpty)
        {
            return [];
        }

        var cdf = new double[splitPoints.Length + 1];
        for (int i = 0; i < splitPoints.Length; i++)
        {
            cdf[i] = (double)WeightAtMost(splitPoints[i]) / TotalWeight;
        }

        cdf[^1] = 1;
        return cdf;
    }

    /// <summary>
    /// Mass in each interval (−∞, s0], (s0, s1], …, (s_last, +∞): a histogram over the split points, summing to 1.
    /// Empty view: an empty array.
    /// </summary>
    /// <exception cref="ArgumentException">Split points are NaN or not strictly increasing.</exception>
    public double[] GetPmf(ReadOnlySpan<float> splitPoints)
    {
        var pmf = GetCdf(splitPoints);
        for (int i = pmf.Length - 1; i > 0; i--)
        {
            pmf[i] -= pmf[i - 1];
        }

        return pmf;
    }

    private static void ValidateSplitPoints(ReadOnlySpan<float> splitPoints)
    {
        for (int i = 0; i < splitPoints.Length; i++)
        {
            if (float.IsNaN(splitPoints[i]) || (i > 0 && !(splitPoints[i] > splitPoints[i - 1])))
            {
                throw new ArgumentException($"split points must be strictly increasing and not NaN (index {i}: {splitPoints[i]})", nameof(splitPoints));
            }
        }
    }

    /// <summary>Number of items (not weight) that are ≤ value.</summary>
    private int CountAtMost(float value)
    {
        int lo = 0;
        int hi = _items.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_items[mid] <= value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private int CountBelow(float value)
    {
        int lo = 0;
        int hi = _items.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_items[mid] < value)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }

    private int FirstIndexWithCumulativeAtLeast(long target)
    {
        int lo = 0;
        int hi = _cumulativeWeights.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_cumulativeWeights[mid] < target)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}
