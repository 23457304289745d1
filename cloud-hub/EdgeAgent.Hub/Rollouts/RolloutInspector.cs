using EdgeAgent.Hub.Storage;

namespace EdgeAgent.Hub.Rollouts;

/// <summary>
/// Builds the full view of a rollout (<see cref="RolloutDetailView"/>): per-step progress, device state
/// counts, current health figures against the thresholds, halt reason and history. Reads only; thread-safe.
/// </summary>
public sealed class RolloutInspector(IHubStore store, TimeProvider time)
{
    private readonly RolloutHealthProbe _probe = new(store);

    /// <summary>Null when the rollout does not exist.</summary>
    public async Task<RolloutDetailView?> DescribeAsync(string id, CancellationToken ct)
    {
        var r = await store.GetRolloutAsync(id, ct);
        if (r is null) return null;
        var now = time.GetUtcNow();
        var devices = await store.ListRolloutDevicesAsync(id, ct);
        var (health, progress) = await _probe.MeasureAsync(r, devices, now, ct);
        int cohortSize = RolloutPolicy.Cohort(await store.ListDevicesAsync(ct), r.Cohort).Count();
        var committedByStep = progress.Where(p => p.State == "committed").GroupBy(p => p.Step).ToDictionary(g => g.Key, g => g.Count());
        var assignedByStep = devices.GroupBy(d => d.StepIndex).ToDictionary(g => g.Key, g => g.Count());
        var history = await store.ListRolloutEventsAsync(id, ct);
        var steps = r.Steps.Select((s, i) => new RolloutStepView(i + 1, s.Percent, s.BakeSeconds, s.MinDevices,
            i < r.StepIndex || r.State == RolloutState.Completed ? "done" : i == r.StepIndex ? "current" : "pending",
            RolloutPolicy.TargetCount(s.Percent, cohortSize), assignedByStep.GetValueOrDefault(i), committedByStep.GetValueOrDefault(i),
            i == r.StepIndex ? r.StepStartedAt : null)).ToList();
        string? waiting = r.State == RolloutState.Running
            ? RolloutPolicy.StepWaitsFor(r, health, RolloutPolicy.TargetCount(r.Steps[r.StepIndex].Percent, cohortSize), now) ?? "nothing: passes at the next evaluation"
            : null;
        var counts = progress.GroupBy(p => p.State).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count());
        return new RolloutDetailView(r.Id, r.Family, r.Version, r.ReleaseCounter, r.Target, r.State.Wire(), r.StepIndex + 1, r.Reason, waiting,
            r.Cohort, cohortSize, steps, r.Thresholds, health, counts, devices.Count(d => !d.Published), progress, history,
            r.CreatedBy, r.CreatedAt, r.UpdatedAt, r.FinishedAt);
    }
}
