using System.Globalization;
using System.Text.Json;
using EdgeAgent.Hub.Drift;
using EdgeAgent.Hub.Ingestion;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Sketches.Profiles;

namespace EdgeAgent.Hub.Dashboard;

/// <summary>
/// Builds the dashboard's views from the store (plus this process's dedup counters). Stateless apart
/// from its dependencies; thread-safe.
/// </summary>
public sealed class DashboardQueries(IHubStore store, TelemetryIngestor ingestor, FleetDriftReport drift, TimeProvider time)
{
    /// <summary>Most prediction samples read for one chart; beyond it the oldest are left out (and the series says so).</summary>
    public const int MaxSamples = 200_000;

    /// <summary>
    /// Samples behind the overview's and the metrics' last-hour figures: the newest this many. The overview is
    /// polled every few seconds by every open tab, so it reads a bounded, recent window rather than a whole hour
    /// of a large fleet; counts and fallback rate then describe those samples (<see cref="PredictionSeries.Truncated"/>).
    /// </summary>
    public const int MaxRecentSamples = 20_000;

    /// <summary>Bins of the reference-vs-current histogram.</summary>
    public const int HistogramBins = 24;

    public async Task<FleetOverview> OverviewAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var fleet = await store.CountFleetAsync(ct);
        var ingest = await IngestAsync(ct);
        var lastHour = await store.ListPredictionSamplesAsync(now.AddHours(-1), null, MaxRecentSamples, ct);
        var rows = await DeviceRowsAsync(ct);
        return new FleetOverview(now, new DeviceStateCounts(fleet.Registered, fleet.Online, fleet.Offline, fleet.Unknown, fleet.Revoked),
            fleet.ByAgentVersion, fleet.ByActiveModel, fleet.ByHealth, ingest, PredictionAggregator.Totals(lastHour.ToList()), rows);
    }

    public async Task<IngestSummary> IngestAsync(CancellationToken ct)
    {
        var counts = await store.CountIngestAsync(ct);
        var dedup = ingestor.DedupStatistics;
        return new IngestSummary(counts.EventsByStream, counts.RejectedMessages, counts.Gaps, counts.GapEvents,
            dedup.Accepted, dedup.Duplicates, counts.HardCasesAnswered, counts.HardCasesFailed);
    }

    public async Task<DeviceDetail?> DeviceAsync(string id, TimeSpan range, CancellationToken ct)
    {
        var d = await store.GetDeviceAsync(id, ct);
        if (d is null) return null;
        var activity = (await store.ListDeviceActivityAsync(ct)).FirstOrDefault(a => a.DeviceId == id);
        JsonElement? status = null;
        if (d.StatusJson is { } json)
        {
            try
            {
                using var doc = JsonDocument.Parse(json);
                status = doc.RootElement.Clone();
            }
            catch (JsonException)
            {
                // Stored payloads were parsed on arrival; an unreadable one is shown as missing rather than failing the page.
            }
        }
        return new DeviceDetail(Row(d, activity), d.CreatedAt, d.RevokedAt, activity?.LastReceivedAt, status,
            await store.ListGapsAsync(id, ct), await PredictionsAsync(range, id, ct));
    }

    public async Task<PredictionSeries> PredictionsAsync(TimeSpan range, string? deviceId, CancellationToken ct, int maxSamples = MaxSamples)
    {
        var to = time.GetUtcNow();
        var from = to - range;
        var samples = await store.ListPredictionSamplesAsync(from, deviceId, maxSamples, ct);
        return PredictionAggregator.Aggregate(samples, from, to, samples.Count >= maxSamples);
    }

    public async Task<IReadOnlyList<DeviceRow>> DeviceRowsAsync(CancellationToken ct)
    {
        var activity = (await store.ListDeviceActivityAsync(ct)).ToDictionary(a => a.DeviceId, StringComparer.Ordinal);
        return (await store.ListDevicesAsync(ct)).Select(d => Row(d, activity.GetValueOrDefault(d.Id))).ToList();
    }

    public async Task<IReadOnlyList<DriftSeriesView>> DriftSeriesAsync(CancellationToken ct)
    {
        var list = new List<DriftSeriesView>();
        foreach (var s in await store.ListDriftSeriesAsync(ct))
        {
            var model = await store.GetModelAsync(s.Model, s.ModelVersion, ct);
            list.Add(new DriftSeriesView(s.Model, s.ModelVersion, Day(s.LatestDay), s.Days, s.Windows, model is not null, model?.ReferenceProfile is not null));
        }
        return list;
    }

    /// <summary>The latest day's fleet drift per feature with histograms, and PSI/KS/W1 for each of the last <paramref name="days"/> days with data.</summary>
    public async Task<DriftDetail> DriftAsync(string model, string version, int days, CancellationToken ct)
    {
        var dayList = await store.ListDriftDaysAsync(model, version, days, ct);
        var registered = await store.GetModelAsync(model, version, ct);
        ReferenceProfile? reference = registered?.ReferenceProfile is { } rp ? ReferenceProfileJson.Deserialize(rp) : null;
        if (dayList.Count == 0) return new DriftDetail(model, version, reference is not null, null, []);

        var reports = new List<FleetDrift>();
        foreach (var day in dayList.Reverse()) reports.Add(await drift.BuildAsync(model, version, day, ct));
        var latest = reports[^1];
        var merged = MergeByFeature(await store.ListDriftWindowsAsync(model, version, dayList[0], ct));
        var features = new List<FeatureDriftDetail>();
        foreach (var f in latest.Features)
        {
            KllFloatsSketch? refSketch = reference is not null && reference.TryGetFeature(f.Feature, out var rf) ? rf.Sketch : null;
            var histogram = Histogram(merged.GetValueOrDefault(f.Feature), refSketch);
            var byDay = reports.Select(r => r.Features.FirstOrDefault(x => x.Feature == f.Feature) is { } x
                ? new DriftDayPoint(r.Day, x.Count, x.Psi, x.Ks, x.Wasserstein1Normalized)
                : new DriftDayPoint(r.Day, 0, null, null, null)).ToList();
            features.Add(new FeatureDriftDetail(f.Feature, f, histogram, byDay));
        }
        return new DriftDetail(model, version, reference is not null, latest.Day, features);
    }

    /// <summary>
    /// Mass of the current (and reference) distribution in equal-width bins spanning both: CDF differences
    /// from each sketch's sorted view, so the bars carry the sketches' rank error (≈1.3 % at k=200), no more.
    /// </summary>
    public static DistributionHistogram Histogram(KllFloatsSketch? current, KllFloatsSketch? reference, int bins = HistogramBins)
    {
        var views = new[] { current, reference }.Where(s => s is { IsEmpty: false }).Select(s => s!.GetSortedView()).ToList();
        if (views.Count == 0) return new DistributionHistogram([], [], null);
        double lo = views.Min(v => (double)v.Min), hi = views.Max(v => (double)v.Max);
        if (!(hi > lo)) { lo -= 0.5; hi += 0.5; }
        var edges = Enumerable.Range(0, bins + 1).Select(i => lo + (hi - lo) * i / bins).ToArray();
        var splits = edges[1..^1].Select(e => (float)e).Distinct().ToArray();
        IReadOnlyList<double> Mass(KllFloatsSketch? s)
        {
            if (s is null || s.IsEmpty) return new double[bins];
            var pmf = s.GetSortedView().GetPmf(splits);
            // float rounding can merge split points on a very narrow range: pad so every bin has a value.
            return pmf.Length == bins ? pmf : [.. pmf, .. new double[Math.Max(0, bins - pmf.Length)]];
        }
        return new DistributionHistogram(edges, Mass(current), reference is null ? null : Mass(reference));
    }

    private static Dictionary<string, KllFloatsSketch> MergeByFeature(IReadOnlyList<DriftWindowRecord> windows)
    {
        var merged = new Dictionary<string, KllFloatsSketch>(StringComparer.Ordinal);
        foreach (var w in windows)
        {
            if (!merged.TryGetValue(w.Feature, out var s)) merged[w.Feature] = s = new KllFloatsSketch();
            s.Merge(KllFloatsSketch.Deserialize(w.Sketch));
        }
        return merged;
    }

    internal static DeviceRow Row(DeviceRecord d, DeviceActivity? a) => new(d.Id, StateOf(d), d.AgentVersion, d.ActiveModel, d.Health, d.UpdateState,
        d.StatusAt, a?.LastEventAt, a?.Events ?? 0, d.Labels);

    internal static string StateOf(DeviceRecord d) => d.RevokedAt is not null ? "revoked" : d.Online switch { null => "unknown", true => "online", false => "offline" };

    private static string Day(DateOnly d) => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
