using EdgeAgent.FleetSim.Devices;

namespace EdgeAgent.FleetSim.Measurement;

/// <summary>Lag of one slice of the run (by commit time on the device).</summary>
public sealed record LagBucket(double FromSecond, long Events, double P50Ms, double P99Ms);

/// <summary>
/// How the committed events compare with the hub store: exactly once means every committed (device, boot, seq) is
/// stored (<see cref="Missing"/> = 0) and nothing else is (<see cref="Unexpected"/> = 0); the store's primary key
/// rules out a second copy. Ingest lag = hub's <c>received_at</c> − the device's commit time (same clock: one machine).
/// </summary>
public sealed record IngestSummary(
    long Committed, long Stored, long Missing, long Unexpected, long DroppedOnDevice,
    double LagP50Ms, double LagP90Ms, double LagP99Ms, double LagMaxMs,
    double CommittedPerSecond, IReadOnlyList<LagBucket> LagOverTime)
{
    public bool ExactlyOnce => Missing == 0 && Unexpected == 0;

    public static IngestSummary Compute(IReadOnlyList<DeviceReport> devices, IReadOnlyList<StoredRow> rows,
        long windowStartMs, long windowEndMs, TimeSpan bucket)
    {
        var commitAt = new Dictionary<(string, string, long), long>();
        long dropped = 0;
        var boots = new HashSet<(string, string)>();
        foreach (var d in devices)
        {
            boots.Add((d.Id, d.BootId));
            foreach (var c in d.Commits)
            {
                dropped += c.Dropped;
                for (long s = c.First; s <= c.Last; s++) commitAt[(d.Id, c.BootId, s)] = c.AtMs;
            }
        }
        var lags = new List<(long CommitMs, double Lag)>(rows.Count);
        long unexpected = 0;
        var seen = new HashSet<(string, string, long)>();
        foreach (var r in rows)
        {
            // Rows of earlier runs against the same store have other boot ids: not this run's business.
            if (!boots.Contains((r.DeviceId, r.BootId))) continue;
            var key = (r.DeviceId, r.BootId, r.Seq);
            if (!commitAt.TryGetValue(key, out long at) || !seen.Add(key)) { unexpected++; continue; }
            lags.Add((at, r.ReceivedAtMs - at));
        }
        long committed = commitAt.Count;
        long inWindow = commitAt.Values.LongCount(t => t >= windowStartMs && t < windowEndMs);
        double seconds = Math.Max(0.001, (windowEndMs - windowStartMs) / 1000.0);
        var sorted = lags.Select(l => l.Lag).Order().ToArray();
        var buckets = lags.Where(l => l.CommitMs >= windowStartMs)
            .GroupBy(l => (long)((l.CommitMs - windowStartMs) / bucket.TotalMilliseconds))
            .OrderBy(g => g.Key)
            .Select(g =>
            {
                var v = g.Select(x => x.Lag).Order().ToArray();
                return new LagBucket(g.Key * bucket.TotalSeconds, v.Length, Percentile(v, 0.5), Percentile(v, 0.99));
            }).ToList();
        return new IngestSummary(committed, lags.Count, committed - lags.Count, unexpected, dropped,
            Percentile(sorted, 0.5), Percentile(sorted, 0.9), Percentile(sorted, 0.99), sorted.Length == 0 ? 0 : sorted[^1],
            Math.Round(inWindow / seconds, 1), buckets);
    }

    /// <summary>Nearest-rank percentile of sorted values (0 when empty).</summary>
    public static double Percentile(double[] sorted, double q)
    {
        if (sorted.Length == 0) return 0;
        int i = (int)Math.Ceiling(q * sorted.Length) - 1;
        return sorted[Math.Clamp(i, 0, sorted.Length - 1)];
    }
}
