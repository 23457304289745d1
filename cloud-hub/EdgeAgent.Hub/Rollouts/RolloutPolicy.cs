using System.Security.Cryptography;
using System.Text;
using EdgeAgent.Hub.Storage;
using static EdgeAgent.Hub.Rollouts.RolloutHealthProbe;

namespace EdgeAgent.Hub.Rollouts;

/// <summary>
/// The rules of a rollout as pure functions (no I/O, no clock): cohort order, step sizes, when a step
/// passes and when a threshold is crossed. Thread-safe.
/// </summary>
public static class RolloutPolicy
{
    /// <summary>
    /// Cohort members in rollout order: SHA-256 of <c>rolloutId/deviceId</c>, so the order is the same on
    /// every hub instance and after restarts, differs between rollouts (the same devices are not always
    /// first), and a device added later slots in without reshuffling the ones already moved.
    /// </summary>
    public static IReadOnlyList<string> Order(string rolloutId, IEnumerable<string> deviceIds) =>
        deviceIds.Select(d => (Key: Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{rolloutId}/{d}"))), Id: d))
            .OrderBy(p => p.Key, StringComparer.Ordinal).ThenBy(p => p.Id, StringComparer.Ordinal).Select(p => p.Id).ToList();

    /// <summary>Devices matching every label pair of <paramref name="cohort"/>, not revoked.</summary>
    public static IEnumerable<DeviceRecord> Cohort(IEnumerable<DeviceRecord> devices, IReadOnlyDictionary<string, string> cohort) =>
        devices.Where(d => d.RevokedAt is null && cohort.All(kv => d.Labels.TryGetValue(kv.Key, out var v) && v == kv.Value));

    /// <summary>Devices a step of <paramref name="percent"/> covers: at least one, rounded up, at most the cohort.</summary>
    public static int TargetCount(double percent, int cohortSize) =>
        cohortSize == 0 ? 0 : Math.Clamp((int)Math.Ceiling(percent * cohortSize / 100.0 - 1e-9), 1, cohortSize);

    /// <summary>Devices that must have committed before the step may pass: the step's minimum, at most the devices assigned.</summary>
    public static int RequiredCommitted(RolloutStep step, int assigned) => Math.Min(step.MinDevices, assigned);

    /// <summary>Null when the step may pass now, else what it waits for (shown to operators).</summary>
    public static string? StepWaitsFor(RolloutRecord r, RolloutHealth h, int target, DateTimeOffset now)
    {
        var step = r.Steps[r.StepIndex];
        if (h.Assigned < target) return $"assigning {target - h.Assigned} more device(s)";
        int required = RequiredCommitted(step, h.Assigned);
        if (h.Committed < required) return $"{h.Committed} of {required} device(s) committed";
        var baked = now - r.StepStartedAt;
        if (baked < TimeSpan.FromSeconds(step.BakeSeconds)) return $"baking: {(int)baked.TotalSeconds} of {step.BakeSeconds} s";
        // The last step ends the rollout: "completed" means every assigned device has an outcome (committed, or refused /
        // rolled back within the thresholds), not just the step's minimum — a device still observing can still roll back.
        // A device that never reports keeps the rollout running, and this line says how many (the dashboard lists them).
        if (r.StepIndex == r.Steps.Count - 1 && h.InProgress + h.Pending > 0)
            return $"{h.InProgress + h.Pending} of {h.Assigned} device(s) still updating or not reported yet ({h.Committed} committed)";
        return null;
    }

    /// <summary>
    /// The first threshold the figures cross, as an operator-readable reason, or null. Outcome ratios are
    /// judged once the step's minimum of devices reported, or at once when the failures alone already
    /// exceed the limit over every device assigned (no later success can bring the ratio back).
    /// Prediction and drift figures are judged only with enough data (<see cref="RolloutThresholds"/>).
    /// </summary>
    public static string? Crossed(RolloutRecord r, RolloutHealth h)
    {
        var t = r.Thresholds;
        var step = r.Steps[Math.Min(r.StepIndex, r.Steps.Count - 1)];
        int quorum = Math.Max(1, RequiredCommitted(step, h.Assigned));
        string release = $"{r.Family}@{r.Version}";
        if (t.MaxRefusalRatio is { } maxRefused && h.Refused > 0 && OutcomeCrossed(h.Refused, h.Reporting, h.Assigned, quorum, maxRefused))
            return $"refusal ratio {Figure(h.RefusalRatio ?? 0)} ({h.Refused} of {h.Reporting} reporting devices refused {release}) is above the limit {Figure(maxRefused)}; e.g. {h.ExampleRefusal}";
        if (t.MaxRollbackRatio is { } maxRolledBack && h.RolledBack > 0 && OutcomeCrossed(h.RolledBack, h.Reporting, h.Assigned, quorum, maxRolledBack))
            return $"rollback ratio {Figure(h.RollbackRatio ?? 0)} ({h.RolledBack} of {h.Reporting} reporting devices rolled {release} back) is above the limit {Figure(maxRolledBack)}; e.g. {h.ExampleRollback}";
        if (h.Predictions >= t.MinPredictions)
        {
            if (t.MaxFallbackRate is { } maxFallback && h.FallbackRate is { } rate && rate > maxFallback)
                return $"fallback rate {Figure(rate)} ({h.Fallbacks} of {h.Predictions} predictions of {release} needed the cloud tier and did not get it) is above the limit {Figure(maxFallback)}";
            if (t.MinMeanConfidence is { } minConfidence && h.MeanConfidence is { } mean && mean < minConfidence)
                return $"mean confidence {Figure(mean)} over {h.Predictions} predictions of {release} is below the limit {Figure(minConfidence)}";
        }
        if (t.MaxDriftPsi is { } maxPsi && h.DriftPsi is { } psi && psi > maxPsi)
            return $"input drift PSI {Figure(psi)} on feature '{h.DriftFeature}' ({h.DriftSamples} samples from devices running {release}) is above the limit {Figure(maxPsi)}";
        return null;
    }

    private static bool OutcomeCrossed(int failures, int reporting, int assigned, int quorum, double limit) =>
        (double)failures / Math.Max(1, assigned) > limit || (reporting >= quorum && (double)failures / reporting > limit);

    /// <summary>Problems with a rollout definition, one operator-readable line each (empty when usable).</summary>
    public static IReadOnlyList<string> Validate(IReadOnlyList<RolloutStep> steps, RolloutThresholds t, IReadOnlyDictionary<string, string> cohort)
    {
        var problems = new List<string>();
        if (steps.Count == 0) problems.Add("a rollout needs at least one step (e.g. 5,25,50,100)");
        double previous = 0;
        for (int i = 0; i < steps.Count; i++)
        {
            var s = steps[i];
            if (!(s.Percent > previous && s.Percent <= 100))
                problems.Add($"step {i + 1}: percent {Figure(s.Percent)} must be above the previous step's {Figure(previous)} and at most 100");
            if (s.BakeSeconds < 0) problems.Add($"step {i + 1}: bakeSeconds {s.BakeSeconds} must be 0 or more");
            if (s.MinDevices < 0) problems.Add($"step {i + 1}: minDevices {s.MinDevices} must be 0 or more");
            previous = Math.Max(previous, s.Percent);
        }
        if (steps.Count > 0 && steps[^1].Percent != 100) problems.Add($"the last step must be 100 percent, not {Figure(steps[^1].Percent)}");
        Ratio("maxRefusalRatio", t.MaxRefusalRatio);
        Ratio("maxRollbackRatio", t.MaxRollbackRatio);
        Ratio("maxFallbackRate", t.MaxFallbackRate);
        Ratio("minMeanConfidence", t.MinMeanConfidence);
        if (t.MaxDriftPsi is { } maxPsi && !(maxPsi >= 0 && double.IsFinite(maxPsi))) problems.Add($"maxDriftPsi {t.MaxDriftPsi} must be 0 or more");
        if (t.MinPredictions < 1) problems.Add($"minPredictions {t.MinPredictions} must be at least 1");
        if (t.MinDriftSamples < 1) problems.Add($"minDriftSamples {t.MinDriftSamples} must be at least 1");
        foreach (var (k, v) in cohort)
            if (string.IsNullOrWhiteSpace(k) || v is null) problems.Add($"cohort label '{k}={v}' needs a key and a value");
        return problems;

        void Ratio(string name, double? v)
        {
            if (v is { } x && !(x >= 0 && x <= 1)) problems.Add($"{name} {Figure(x)} must be between 0 and 1");
        }
    }
}
