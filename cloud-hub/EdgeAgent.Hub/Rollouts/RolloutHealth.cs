using System.Globalization;
using System.Text.Json;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Sketches.Drift;
using EdgeAgent.Sketches.Kll;
using EdgeAgent.Sketches.Profiles;

namespace EdgeAgent.Hub.Rollouts;

/// <summary>
/// The ML health of a rollout's release on the devices it moved (Rollouts/README.md, "Health"):
/// update outcomes, prediction figures since each device committed, and input drift.
/// </summary>
/// <param name="Reporting">Devices with a final outcome for the release: committed, refused or rolled back.</param>
/// <param name="RefusalRatio">Refused over reporting (null while nobody reported).</param>
/// <param name="FallbackRate">Predictions decided by fallback (cloud tier needed but not reached) over predictions of committed devices.</param>
/// <param name="MeanConfidence">Mean of the release's own (local) top-class probability.</param>
/// <param name="DriftPsi">Largest PSI over features with enough samples, against the release's reference profile (null without one).</param>
public sealed record RolloutHealth(
    int Assigned, int Reporting, int Committed, int Refused, int RolledBack, int InProgress, int Pending, int Reverted,
    double? RefusalRatio, double? RollbackRatio,
    long Predictions, long Fallbacks, double? FallbackRate, double? MeanConfidence,
    double? DriftPsi, string? DriftFeature, long DriftSamples,
    string? ExampleRefusal, string? ExampleRollback);

/// <summary>Where one device stands in a rollout.</summary>
/// <param name="State">pending (assigned, nothing reported yet), a phase of the update state machine, or reverted.</param>
public sealed record RolloutDeviceProgress(string DeviceId, int Step, string State, string? Reason, DateTimeOffset? At, string? PreviousTarget, bool Published);

/// <summary>
/// Measures <see cref="RolloutHealth"/> from the store: per-device update state (newest transition of
/// the family about this release), the release's predictions in the <c>telemetry</c> stream (model
/// <c>FAMILY@VERSION</c>, as the agent writes it) and its drift windows merged per feature. Stateless,
/// thread-safe; reads only.
/// </summary>
public sealed class RolloutHealthProbe(IHubStore store)
{
    /// <summary>Most prediction events read per evaluation (newest first): bounds the work on a large fleet.</summary>
    public int MaxPredictionEvents { get; init; } = 200_000;

    /// <summary>Most days of drift windows read (from the rollout's creation on).</summary>
    public int MaxDriftDays { get; init; } = 14;

    /// <summary>Refusal codes (<c>UpdateRefusal</c> names) that say the download failed, not that the release is bad.</summary>
    public static readonly IReadOnlySet<string> DeliveryFailureCodes = new HashSet<string>(StringComparer.Ordinal) { "TargetHash", "Download", "InsufficientDisk" };

    public async Task<(RolloutHealth Health, IReadOnlyList<RolloutDeviceProgress> Devices)> MeasureAsync(
        RolloutRecord rollout, IReadOnlyList<RolloutDeviceRecord> devices, DateTimeOffset now, CancellationToken ct)
    {
        var states = (await store.ListDeviceUpdateStatesAsync(rollout.Family, ct)).ToDictionary(s => s.DeviceId, StringComparer.Ordinal);
        var progress = new List<RolloutDeviceProgress>(devices.Count);
        int committed = 0, refused = 0, rolledBack = 0, inProgress = 0, pending = 0, reverted = 0;
        string? exampleRefusal = null, exampleRollback = null;
        var committedAt = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        foreach (var d in devices)
        {
            // Only a transition about this release counts, and only one reported after the device was assigned it.
            var s = states.GetValueOrDefault(d.DeviceId);
            bool about = s is not null && s.Version == rollout.Version && s.At >= d.AssignedAt.AddMinutes(-5);
            string state = d.Action == RolloutDeviceAction.Reverted ? "reverted" : about ? s!.Phase : "pending";
            // The bytes never arrived intact (a corrupting mirror, a cut download, a full disk): the device judged its copy,
            // not the release, keeps its current model, does not blacklist the release and tries again at its next check.
            // Counting that as a refusal would let one bad mirror halt and roll back a good release (docs/CHAOS.md).
            if (state == "refused" && s!.Code is { } code && DeliveryFailureCodes.Contains(code)) state = "retrying";
            switch (state)
            {
                case "committed": committed++; committedAt[d.DeviceId] = s!.At; break;
                case "refused": refused++; exampleRefusal ??= $"{d.DeviceId}: {s!.Reason ?? s.Code ?? "no reason given"}"; break;
                case "rolled-back": rolledBack++; exampleRollback ??= $"{d.DeviceId}: {s!.Reason ?? s.Code ?? "no reason given"}"; break;
                case "pending" or "idle": pending++; break;
                case "reverted": reverted++; break;
                default: inProgress++; break;
            }
            progress.Add(new RolloutDeviceProgress(d.DeviceId, d.StepIndex, state, about ? s!.Reason : null, about ? s!.At : null, d.PreviousTarget, d.Published));
        }
        int reporting = committed + refused + rolledBack;
        var (predictions, fallbacks, meanConfidence) = await PredictionsAsync(rollout, committedAt, ct);
        var (psi, feature, samples) = await DriftAsync(rollout, committedAt.Keys.ToHashSet(StringComparer.Ordinal), now, ct);
        var health = new RolloutHealth(devices.Count, reporting, committed, refused, rolledBack, inProgress, pending, reverted,
            reporting == 0 ? null : (double)refused / reporting, reporting == 0 ? null : (double)rolledBack / reporting,
            predictions, fallbacks, predictions == 0 ? null : (double)fallbacks / predictions, meanConfidence,
            psi, feature, samples, exampleRefusal, exampleRollback);
        return (health, progress);
    }

    private async Task<(long Predictions, long Fallbacks, double? MeanConfidence)> PredictionsAsync(
        RolloutRecord rollout, Dictionary<string, DateTimeOffset> committedAt, CancellationToken ct)
    {
        if (committedAt.Count == 0) return (0, 0, null);
        var since = committedAt.Values.Min();
        var events = await store.ListStreamEventsSinceAsync([.. committedAt.Keys], "telemetry", since, MaxPredictionEvents, ct);
        string release = $"{rollout.Family}@{rollout.Version}";
        long n = 0, fallbacks = 0, withConfidence = 0;
        double confidence = 0;
        foreach (var e in events)
        {
            if (e.Data is null || e.Ts < committedAt[e.DeviceId]) continue;
            using var doc = TryParse(e.Data);
            if (doc is null || doc.RootElement.ValueKind != JsonValueKind.Object) continue;
            var root = doc.RootElement;
            // The agent names the model FAMILY@VERSION; a bare family name counts after the device committed.
            if (!root.TryGetProperty("model", out var m) || m.ValueKind != JsonValueKind.String || (m.GetString() != release && m.GetString() != rollout.Family)) continue;
            if (!root.TryGetProperty("decidedBy", out var by) || by.ValueKind != JsonValueKind.String) continue;
            n++;
            if (by.GetString() == "fallback") fallbacks++;
            // The release's own answer: the local confidence (the cloud's answer says nothing about this model).
            if ((root.TryGetProperty("localConfidence", out var c) || root.TryGetProperty("confidence", out c)) && c.ValueKind == JsonValueKind.Number)
            {
                confidence += c.GetDouble();
                withConfidence++;
            }
        }
        return (n, fallbacks, withConfidence == 0 ? null : confidence / withConfidence);
    }

    private static JsonDocument? TryParse(string json)
    {
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private async Task<(double? Psi, string? Feature, long Samples)> DriftAsync(RolloutRecord rollout, HashSet<string> committed, DateTimeOffset now, CancellationToken ct)
    {
        if (committed.Count == 0) return (null, null, 0);
        var model = await store.GetModelAsync(rollout.Family, rollout.Version, ct);
        ReferenceProfile? reference = null;
        if (model?.ReferenceProfile is { } rp)
        {
            try
            {
                reference = ReferenceProfileJson.Deserialize(rp);
            }
            catch (FormatException)
            {
                reference = null; // registration validated it; a damaged row only disables the drift signal
            }
        }
        var merged = new Dictionary<string, KllFloatsSketch>(StringComparer.Ordinal);
        var first = DateOnly.FromDateTime(rollout.CreatedAt.UtcDateTime);
        var last = DateOnly.FromDateTime(now.UtcDateTime);
        if (last.DayNumber - first.DayNumber >= MaxDriftDays) first = last.AddDays(-(MaxDriftDays - 1));
        for (var day = first; day <= last; day = day.AddDays(1))
        {
            foreach (var w in await store.ListDriftWindowsAsync(rollout.Family, rollout.Version, day, ct))
            {
                if (!committed.Contains(w.DeviceId)) continue;
                KllFloatsSketch sketch;
                try
                {
                    sketch = KllFloatsSketch.Deserialize(w.Sketch);
                }
                catch (KllFormatException)
                {
                    continue; // the ingestor checked it; never let one bad row stop the evaluation
                }
                if (merged.TryGetValue(w.Feature, out var m)) m.Merge(sketch);
                else merged[w.Feature] = sketch;
            }
        }
        long samples = merged.Count == 0 ? 0 : merged.Values.Max(s => s.N);
        if (reference is null) return (null, null, samples);
        double? worst = null;
        string? worstFeature = null;
        foreach (var (name, sketch) in merged.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (sketch.IsEmpty || sketch.N < rollout.Thresholds.MinDriftSamples) continue;
            if (!reference.TryGetFeature(name, out var rf) || rf.Sketch.IsEmpty) continue;
            var psi = DriftMetrics.PopulationStabilityIndex(rf.Sketch.GetSortedView(), sketch.GetSortedView()).Value;
            if (worst is null || psi > worst) (worst, worstFeature) = (psi, name);
        }
        return (worst, worstFeature, samples);
    }

    internal static string Figure(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
}
