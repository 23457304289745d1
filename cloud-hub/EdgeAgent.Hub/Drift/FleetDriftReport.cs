using EdgeAgent.Hub.Storage;
using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Sketches.Profiles;

namespace EdgeAgent.Hub.Drift;

/// <summary>Fleet view of one feature: device windows merged, and drift against the reference when the model has one.</summary>
public sealed record FeatureDrift(string Feature, int Windows, int Devices, long Count, float? Min, float? Max, float? Median,
    double? Psi, double? Ks, double? KsThreshold, bool? KsDrift, double? Wasserstein1Normalized);

/// <summary>Fleet drift for a model version on one day.</summary>
public sealed record FleetDrift(string Model, string Version, string Day, bool HasReference, IReadOnlyList<FeatureDrift> Features);

/// <summary>
/// Merges device KLL sketches per model/version/day/feature (DESIGN.md §7: the hub merges device
/// sketches into fleet views) at query time from the stored windows, so several hub instances never
/// race on a shared accumulator; then PSI, KS and normalized W1 against the reference profile
/// registered with the model (<see cref="DriftMetrics"/>). Stateless, thread-safe.
/// </summary>
public sealed class FleetDriftReport(IHubStore store)
{
    public async Task<FleetDrift> BuildAsync(string model, string version, DateOnly day, CancellationToken ct)
    {
        var windows = await store.ListDriftWindowsAsync(model, version, day, ct);
        var registered = await store.GetModelAsync(model, version, ct);
        ReferenceProfile? reference = registered?.ReferenceProfile is { } rp ? ReferenceProfileJson.Deserialize(rp) : null;
        var features = new List<FeatureDrift>();
        foreach (var group in windows.GroupBy(w => w.Feature, StringComparer.Ordinal))
        {
            var merged = new KllFloatsSketch();
            foreach (var w in group) merged.Merge(KllFloatsSketch.Deserialize(w.Sketch));
            var devices = group.Select(w => w.DeviceId).Distinct(StringComparer.Ordinal).Count();
            if (merged.IsEmpty)
            {
                features.Add(new FeatureDrift(group.Key, group.Count(), devices, 0, null, null, null, null, null, null, null, null));
                continue;
            }
            double? psi = null, ks = null, ksThreshold = null, w1 = null;
            bool? ksDrift = null;
            if (reference is not null && reference.TryGetFeature(group.Key, out var rf) && !rf.Sketch.IsEmpty)
            {
                var refView = rf.Sketch.GetSortedView();
                var curView = merged.GetSortedView();
                psi = DriftMetrics.PopulationStabilityIndex(refView, curView).Value;
                var k = DriftMetrics.KolmogorovSmirnov(refView, curView);
                (ks, ksThreshold, ksDrift) = (k.Statistic, k.Threshold, k.DriftDetected);
                var s = rf.Statistics;
                var sd = s.Count > 1 ? Math.Sqrt(s.M2 / (s.Count - 1)) : 0;
                if (sd > 0) w1 = DriftMetrics.Wasserstein(refView, curView, sd).Normalized;
            }
            features.Add(new FeatureDrift(group.Key, group.Count(), devices, merged.N, merged.MinItem, merged.MaxItem, merged.GetQuantile(0.5),
                psi, ks, ksThreshold, ksDrift, w1));
        }
        return new FleetDrift(model, version, day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), reference is not null, features);
    }
}
