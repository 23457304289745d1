using EdgeAgent.Hub.Storage;

namespace EdgeAgent.Hub.Dashboard;

/// <summary>
/// Buckets prediction samples over a time range: counts by decider (local/cloud/fallback), fallback rate
/// and nearest-rank percentiles of inference and end-to-end latency. Pure and stateless.
/// </summary>
public static class PredictionAggregator
{
    /// <summary>Bucket widths the charts use; the smallest giving at most <see cref="MaxBuckets"/> points wins.</summary>
    private static readonly int[] BucketSeconds = [60, 300, 600, 900, 1800, 3600, 7200, 21600, 86400];

    public const int MaxBuckets = 120;

    public static int ChooseBucketSeconds(TimeSpan range)
    {
        foreach (var s in BucketSeconds)
            if (range.TotalSeconds / s <= MaxBuckets) return s;
        return BucketSeconds[^1];
    }

    /// <summary>Aggregates <paramref name="samples"/> (any order) into buckets aligned to Unix time multiples of the bucket width.</summary>
    public static PredictionSeries Aggregate(IReadOnlyList<PredictionSample> samples, DateTimeOffset from, DateTimeOffset to, bool truncated)
    {
        int bucket = ChooseBucketSeconds(to - from);
        long width = bucket * 1000L;
        long first = Floor(from.ToUnixTimeMilliseconds(), width);
        long last = Floor(to.ToUnixTimeMilliseconds(), width);
        var byBucket = samples.GroupBy(s => Floor(s.Ts.ToUnixTimeMilliseconds(), width)).ToDictionary(g => g.Key, g => g.ToList());
        var points = new List<PredictionPoint>();
        // Every bucket in range is listed (empty ones with count 0) so a chart shows silence as silence.
        for (long t = first; t <= last; t += width)
        {
            var totals = Totals(byBucket.TryGetValue(t, out var list) ? list : []);
            points.Add(new PredictionPoint(DateTimeOffset.FromUnixTimeMilliseconds(t), totals.Count, totals.Local, totals.Cloud, totals.Fallback,
                totals.FallbackRate, totals.InferenceP50Us, totals.InferenceP95Us, totals.LatencyP50Us, totals.LatencyP95Us));
        }
        var byModel = samples.GroupBy(s => s.Model ?? "(unnamed)", StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new ModelPredictionTotals(g.Key, Totals(g.ToList()))).ToList();
        return new PredictionSeries(from, to, bucket, samples.Count, truncated, Totals(samples), points, byModel);
    }

    public static PredictionTotals Totals(IReadOnlyCollection<PredictionSample> samples)
    {
        long local = 0, cloud = 0, fallback = 0;
        var inference = new List<double>(samples.Count);
        var latency = new List<double>(samples.Count);
        foreach (var s in samples)
        {
            switch (s.DecidedBy)
            {
                case "local": local++; break;
                case "cloud": cloud++; break;
                case "fallback": fallback++; break;
            }
            if (s.InferenceUs is { } i) inference.Add(i);
            if (s.LatencyUs is { } l) latency.Add(l);
        }
        inference.Sort();
        latency.Sort();
        long count = samples.Count;
        return new PredictionTotals(count, local, cloud, fallback, count == 0 ? null : (double)fallback / count,
            Percentile(inference, 0.5), Percentile(inference, 0.95), Percentile(latency, 0.5), Percentile(latency, 0.95));
    }

    /// <summary>Nearest-rank percentile of sorted values (null when empty).</summary>
    public static double? Percentile(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0) return null;
        int rank = (int)Math.Ceiling(p * sorted.Count);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Count - 1)];
    }

    private static long Floor(long ms, long width) => ms - (((ms % width) + width) % width);
}
