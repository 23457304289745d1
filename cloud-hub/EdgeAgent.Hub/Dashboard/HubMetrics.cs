using System.Text.Json;
using EdgeAgent.Hub.Drift;
using EdgeAgent.Hub.Rollouts;
using EdgeAgent.Hub.Storage;

namespace EdgeAgent.Hub.Dashboard;

/// <summary>
/// Builds the <c>GET /metrics</c> exposition (Prometheus text 0.0.4) from the store and this process's
/// counters; the metric list with types and labels is in Dashboard/README.md. Fleet-wide numbers come from
/// the store, so every hub instance sharing a database reports the same values for them (aggregate with
/// <c>max</c>, not <c>sum</c>); <c>edgehub_telemetry_dedup_*</c> are per process.
/// </summary>
/// <remarks>
/// Thread-safe. Drift needs every sketch of the latest day merged, which is the expensive part of a
/// scrape, so it is recomputed at most once per <see cref="DriftCacheTime"/>.
/// </remarks>
public sealed class HubMetrics(IHubStore store, DashboardQueries queries, FleetDriftReport drift, RolloutInspector rollouts, TimeProvider time)
{
    public static readonly TimeSpan DriftCacheTime = TimeSpan.FromSeconds(60);

    private readonly SemaphoreSlim _driftLock = new(1, 1);
    private (DateTimeOffset At, IReadOnlyList<FleetDrift> Reports)? _drift;

    public async Task<string> ScrapeAsync(CancellationToken ct)
    {
        var w = new PrometheusTextWriter();
        var fleet = await store.CountFleetAsync(ct);
        w.Family("edgehub_devices_registered", "gauge", "Devices in the registry, revoked ones included.").Sample(fleet.Registered);
        w.Family("edgehub_devices", "gauge", "Devices by state: online/offline from the retained status (Last Will sets offline), unknown = never reported, revoked = credentials revoked.")
            .Sample(fleet.Online, ("state", "online")).Sample(fleet.Offline, ("state", "offline"))
            .Sample(fleet.Unknown, ("state", "unknown")).Sample(fleet.Revoked, ("state", "revoked"));
        w.Family("edgehub_devices_by_model", "gauge", "Non-revoked devices by the active model they report (model and version split at '@'; empty when not reported).");
        foreach (var group in fleet.ByActiveModel.Select(k => (Parsed: ParseModel(k.Key), k.Count)).GroupBy(x => x.Parsed).OrderBy(g => g.Key.Model, StringComparer.Ordinal).ThenBy(g => g.Key.Version, StringComparer.Ordinal))
            w.Sample(group.Sum(x => x.Count), ("model", group.Key.Model), ("version", group.Key.Version));
        w.Family("edgehub_devices_by_agent_version", "gauge", "Non-revoked devices by reported agent version (empty when not reported).");
        foreach (var k in fleet.ByAgentVersion) w.Sample(k.Count, ("agent_version", k.Key ?? ""));

        var ingest = await queries.IngestAsync(ct);
        w.Family("edgehub_telemetry_events_stored", "gauge", "Telemetry events held by the store per stream (exactly once; retention lowers it).");
        foreach (var k in ingest.EventsByStream) w.Sample(k.Count, ("stream", k.Key ?? ""));
        w.Family("edgehub_telemetry_dedup_accepted_total", "counter", "Events accepted by this hub process's dedup filter since start (resets when a store failure discards the dedup window).")
            .Sample(ingest.DedupAccepted);
        w.Family("edgehub_telemetry_duplicates_dropped_total", "counter", "Redelivered events this hub process dropped as duplicates since start.")
            .Sample(ingest.DuplicatesDropped);
        w.Family("edgehub_rejected_messages_total", "counter", "MQTT messages parked in rejected_messages because they broke the contract.").Sample(ingest.RejectedMessages);
        w.Family("edgehub_telemetry_gaps", "gauge", "Known telemetry gaps (device tombstones) held by the store.").Sample(ingest.Gaps);
        w.Family("edgehub_telemetry_gap_events", "gauge", "Events the devices reported dropping (sum of the gaps' counts).").Sample(ingest.GapEvents);
        w.Family("edgehub_cloud_requests_total", "counter", "Cloud-tier requests answered by the hubs (one hard_cases row each), by outcome.")
            .Sample(ingest.CloudAnswered, ("outcome", "answered")).Sample(ingest.CloudFailed, ("outcome", "error"));

        var hour = await queries.PredictionsAsync(TimeSpan.FromHours(1), null, ct, DashboardQueries.MaxRecentSamples);
        w.Family("edgehub_predictions_last_hour", "gauge", "Prediction events with a timestamp in the last hour, by model and decider (local, cloud, fallback).");
        foreach (var m in hour.ByModel)
            w.Sample(m.Totals.Local, ("model", m.Model), ("decided_by", "local")).Sample(m.Totals.Cloud, ("model", m.Model), ("decided_by", "cloud"))
             .Sample(m.Totals.Fallback, ("model", m.Model), ("decided_by", "fallback"));
        w.Family("edgehub_prediction_fallback_ratio_last_hour", "gauge", "Share of the last hour's predictions that fell back to the local answer because the cloud tier did not answer.");
        foreach (var m in hour.ByModel) if (m.Totals.FallbackRate is { } r) w.Sample(r, ("model", m.Model));
        w.Family("edgehub_inference_microseconds_last_hour", "gauge", "On-device inference time of the last hour's predictions (nearest-rank quantiles), microseconds.");
        foreach (var m in hour.ByModel)
        {
            if (m.Totals.InferenceP50Us is { } p50) w.Sample(p50, ("model", m.Model), ("quantile", "0.5"));
            if (m.Totals.InferenceP95Us is { } p95) w.Sample(p95, ("model", m.Model), ("quantile", "0.95"));
        }
        w.Family("edgehub_decision_latency_microseconds_last_hour", "gauge", "Window-complete-to-decision latency of the last hour's predictions (nearest-rank quantiles), microseconds.");
        foreach (var m in hour.ByModel)
        {
            if (m.Totals.LatencyP50Us is { } p50) w.Sample(p50, ("model", m.Model), ("quantile", "0.5"));
            if (m.Totals.LatencyP95Us is { } p95) w.Sample(p95, ("model", m.Model), ("quantile", "0.95"));
        }

        var reports = await DriftReportsAsync(ct);
        w.Family("edgehub_drift_psi", "gauge", "Population stability index of the fleet's merged sketches vs the registered reference profile, latest day with data.");
        foreach (var (r, f) in Features(reports)) if (f.Psi is { } v) w.Sample(v, DriftLabels(r, f));
        w.Family("edgehub_drift_ks", "gauge", "Kolmogorov-Smirnov statistic vs the reference, latest day with data.");
        foreach (var (r, f) in Features(reports)) if (f.Ks is { } v) w.Sample(v, DriftLabels(r, f));
        w.Family("edgehub_drift_wasserstein1_normalized", "gauge", "Wasserstein-1 distance vs the reference divided by the reference standard deviation, latest day with data.");
        foreach (var (r, f) in Features(reports)) if (f.Wasserstein1Normalized is { } v) w.Sample(v, DriftLabels(r, f));
        w.Family("edgehub_drift_samples", "gauge", "Samples in the fleet's merged sketches, latest day with data.");
        foreach (var (r, f) in Features(reports)) w.Sample(f.Count, DriftLabels(r, f));

        await WriteRolloutsAsync(w, ct);
        return w.ToString();
    }

    /// <summary>
    /// Rollouts: counts by state for all of them; for the active ones (running, paused, halted) a state set,
    /// step, share, devices by update state and committed share of the cohort. Finished rollouts leave the
    /// per-rollout families, so their series end instead of accumulating.
    /// </summary>
    private async Task WriteRolloutsAsync(PrometheusTextWriter w, CancellationToken ct)
    {
        var all = await store.ListRolloutsAsync(ct);
        w.Family("edgehub_rollouts", "gauge", "Rollouts by state (running, paused, halted, completed, aborted, rolled-back).");
        foreach (var state in Enum.GetValues<RolloutState>())
            w.Sample(all.Count(r => r.State == state), ("state", state.Wire()));
        var active = new List<(RolloutRecord Record, RolloutDetailView? Detail)>();
        foreach (var r in all.Where(r => r.State.IsActive())) active.Add((r, await rollouts.DescribeAsync(r.Id, ct)));
        static (string, string)[] Labels(RolloutRecord r, params (string, string)[] more) => [("rollout", r.Id), ("family", r.Family), ("version", r.Version), .. more];

        w.Family("edgehub_rollout_state", "gauge", "Active rollouts: 1 for the current state, 0 for the others (alert on state=\"halted\").");
        foreach (var (r, _) in active)
            foreach (var state in new[] { RolloutState.Running, RolloutState.Paused, RolloutState.Halted })
                w.Sample(r.State == state ? 1 : 0, Labels(r, ("state", state.Wire())));
        w.Family("edgehub_rollout_step", "gauge", "Active rollouts: current step, 1-based.");
        foreach (var (r, _) in active) w.Sample(r.StepIndex + 1, Labels(r));
        w.Family("edgehub_rollout_steps", "gauge", "Active rollouts: number of steps.");
        foreach (var (r, _) in active) w.Sample(r.Steps.Count, Labels(r));
        w.Family("edgehub_rollout_target_ratio", "gauge", "Active rollouts: share of the cohort the current step targets (0..1).");
        foreach (var (r, _) in active) w.Sample(r.Steps[Math.Min(r.StepIndex, r.Steps.Count - 1)].Percent / 100, Labels(r));
        w.Family("edgehub_rollout_committed_ratio", "gauge", "Active rollouts: devices that committed the release over the cohort's devices (0..1).");
        foreach (var (r, d) in active)
            if (d is { CohortSize: > 0 }) w.Sample((double)d.Health.Committed / d.CohortSize, Labels(r));
        w.Family("edgehub_rollout_devices", "gauge", "Active rollouts: devices by update state (pending, downloading … observing, committed, refused, rolled-back, reverted).");
        foreach (var (r, d) in active)
            foreach (var (state, count) in (d?.DeviceStates ?? new Dictionary<string, int>()).OrderBy(kv => kv.Key, StringComparer.Ordinal))
                w.Sample(count, Labels(r, ("state", state)));
    }

    private async Task<IReadOnlyList<FleetDrift>> DriftReportsAsync(CancellationToken ct)
    {
        await _driftLock.WaitAsync(ct);
        try
        {
            var now = time.GetUtcNow();
            if (_drift is { } cached && now - cached.At < DriftCacheTime) return cached.Reports;
            var reports = new List<FleetDrift>();
            foreach (var s in await store.ListDriftSeriesAsync(ct))
                reports.Add(await drift.BuildAsync(s.Model, s.ModelVersion, s.LatestDay, ct));
            _drift = (now, reports);
            return reports;
        }
        finally
        {
            _driftLock.Release();
        }
    }

    private static IEnumerable<(FleetDrift, FeatureDrift)> Features(IReadOnlyList<FleetDrift> reports) =>
        reports.SelectMany(r => r.Features.Select(f => (r, f)));

    private static (string, string)[] DriftLabels(FleetDrift r, FeatureDrift f) => [("model", r.Model), ("version", r.Version), ("feature", f.Feature)];

    /// <summary>
    /// Splits a reported active model into name and version: <c>name@version</c>, or a JSON object with
    /// <c>name</c>/<c>model</c> and <c>version</c> (the status parser keeps objects as JSON text).
    /// </summary>
    public static (string Model, string Version) ParseModel(string? active)
    {
        if (string.IsNullOrEmpty(active)) return ("", "");
        if (active.StartsWith('{'))
        {
            try
            {
                using var doc = JsonDocument.Parse(active);
                var root = doc.RootElement;
                string Field(params string[] names) => names.Select(n => root.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null)
                    .FirstOrDefault(v => v is not null) ?? "";
                return (Field("name", "model"), Field("version"));
            }
            catch (JsonException)
            {
                return (active, "");
            }
        }
        int at = active.LastIndexOf('@');
        return at > 0 ? (active[..at], active[(at + 1)..]) : (active, "");
    }
}
