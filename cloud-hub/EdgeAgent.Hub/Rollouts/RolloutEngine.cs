using EdgeAgent.Bundles.Assignments;
using EdgeAgent.Bundles;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Releases;
using EdgeAgent.Hub.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hub.Rollouts;

/// <summary>
/// Drives every active rollout (a reconcile loop: stored desired progress vs. what devices report):
/// assigns the current step's devices, advances a step once it is baked, has enough committed devices
/// and healthy figures, halts and rolls back when a threshold is crossed, and publishes pending
/// assignments through <see cref="IDeviceAssignmentPublisher"/>. Runs every
/// <see cref="HubOptions.RolloutTickInterval"/> on <see cref="TimeProvider"/> and at once when
/// <see cref="RolloutSignal"/> is nudged (new update transitions, operator actions).
/// </summary>
/// <remarks>
/// Several hub instances may run it on one database: each evaluation of a rollout holds that rollout's
/// lease (a conditional UPDATE on its row, with an expiry so a crashed instance does not block it; not a
/// transaction, because publishing signs metadata and may take seconds), and every write checks the
/// row's revision, so an operator's pause or abort in between makes the engine re-read instead of
/// overwriting it. Publishing is idempotent (it replaces a device's assignment) and a device row is
/// marked published only if its action did not change meanwhile, so a crash or race converges on retry.
/// Thread-safe.
/// </remarks>
public sealed class RolloutEngine(
    IHubStore store, TimeProvider time, RolloutSignal signal, HubOptions options, ILogger<RolloutEngine> logger,
    IDeviceAssignmentPublisher? publisher = null) : BackgroundService
{
    private readonly RolloutHealthProbe _probe = new(store);

    /// <summary>Names this instance as a lease owner.</summary>
    public string InstanceId { get; } = $"{Environment.MachineName}-{Guid.NewGuid():N}";

    /// <summary>Completed evaluation passes (for tests: "the engine has looked since X").</summary>
    public long Passes => Interlocked.Read(ref _passes);

    private long _passes;
    private bool _warnedNoPublisher;

    // The lease keeps instances apart; this keeps one instance's own evaluations (loop, tests) from overlapping.
    private readonly SemaphoreSlim _gate = new(1, 1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await EvaluateAllAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Store outages and the like: log and try again at the next tick; the state is in the store.
                logger.LogError(e, "Rollout evaluation failed; retrying at the next tick");
            }
            try
            {
                await signal.WaitAsync(options.RolloutTickInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Evaluates every rollout that needs work; returns how many this instance evaluated (others may hold leases).</summary>
    public async Task<int> EvaluateAllAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            int evaluated = 0;
            foreach (var id in await store.ListRolloutsNeedingWorkAsync(ct))
                if (await EvaluateLeasedAsync(id, ct)) evaluated++;
            Interlocked.Increment(ref _passes);
            return evaluated;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Evaluates one rollout under its lease; false when another instance holds the lease.</summary>
    public async Task<bool> EvaluateAsync(string id, CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        try
        {
            return await EvaluateLeasedAsync(id, ct);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<bool> EvaluateLeasedAsync(string id, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (!await store.TryLeaseRolloutAsync(id, InstanceId, now, now + options.RolloutLease, ct)) return false;
        try
        {
            // A few transitions may follow each other in one evaluation (halt, then roll back).
            for (int i = 0; i < 8; i++)
            {
                if (!await StepAsync(id, ct)) break;
            }
            await PublishPendingAsync(id, ct);
        }
        finally
        {
            await store.ReleaseRolloutLeaseAsync(id, InstanceId, CancellationToken.None);
        }
        return true;
    }

    /// <summary>Decides and writes one transition; false when there is nothing (more) to do now.</summary>
    private async Task<bool> StepAsync(string id, CancellationToken ct)
    {
        var r = await store.GetRolloutAsync(id, ct);
        if (r is null || !r.State.IsActive()) return false;
        var now = time.GetUtcNow();
        var devices = await store.ListRolloutDevicesAsync(id, ct);
        var (health, _) = await _probe.MeasureAsync(r, devices, now, ct);
        var rows = new List<RolloutDeviceRecord>();
        RolloutRecord next;
        RolloutEventRecord history;
        if (r.State is RolloutState.Running or RolloutState.Paused && RolloutPolicy.Crossed(r, health) is { } reason)
        {
            next = r with { State = RolloutState.Halted, Reason = reason, UpdatedAt = now };
            history = new RolloutEventRecord(now, "engine", "halted", reason);
            logger.LogWarning("Rollout {Rollout} of {Family}@{Version} halted: {Reason}", r.Id, r.Family, r.Version, reason);
        }
        else if (r.State == RolloutState.Halted)
        {
            rows.AddRange(Revert(devices));
            next = r with { State = RolloutState.RolledBack, UpdatedAt = now, FinishedAt = now };
            history = new RolloutEventRecord(now, "engine", "rolled-back", $"previous release re-assigned to {rows.Count} device(s)");
            logger.LogWarning("Rollout {Rollout} rolled back: previous release re-assigned to {Devices} device(s)", r.Id, rows.Count);
        }
        else if (r.State == RolloutState.Running)
        {
            var all = await store.ListDevicesAsync(ct);
            var cohort = RolloutPolicy.Order(r.Id, RolloutPolicy.Cohort(all, r.Cohort).Select(d => d.Id));
            var step = r.Steps[r.StepIndex];
            int target = RolloutPolicy.TargetCount(step.Percent, cohort.Count);
            if (devices.Count < target)
            {
                var moved = devices.Select(d => d.DeviceId).ToHashSet(StringComparer.Ordinal);
                var byId = all.ToDictionary(d => d.Id, StringComparer.Ordinal);
                foreach (var deviceId in cohort.Where(d => !moved.Contains(d)).Take(target - devices.Count))
                    rows.Add(new RolloutDeviceRecord(r.Id, deviceId, r.StepIndex, now, await PreviousTargetAsync(byId[deviceId], r.Family, ct), RolloutDeviceAction.Assigned, false));
                next = r with { UpdatedAt = now };
                history = new RolloutEventRecord(now, "engine", "assigned",
                    $"step {r.StepIndex + 1} ({RolloutHealthProbe.Figure(step.Percent)}%): {r.Family}@{r.Version} assigned to {rows.Count} device(s): {Names(rows.Select(x => x.DeviceId))}");
            }
            else if (RolloutPolicy.StepWaitsFor(r, health, target, now) is null)
            {
                if (r.StepIndex == r.Steps.Count - 1)
                {
                    next = r with { State = RolloutState.Completed, UpdatedAt = now, FinishedAt = now };
                    history = new RolloutEventRecord(now, "engine", "completed", $"{health.Committed} of {health.Assigned} device(s) committed {r.Family}@{r.Version}");
                }
                else
                {
                    next = r with { StepIndex = r.StepIndex + 1, StepStartedAt = now, UpdatedAt = now };
                    history = new RolloutEventRecord(now, "engine", "step",
                        $"step {r.StepIndex + 1} passed ({health.Committed} committed); step {r.StepIndex + 2} ({RolloutHealthProbe.Figure(r.Steps[r.StepIndex + 1].Percent)}%) started");
                }
                logger.LogInformation("Rollout {Rollout}: {Detail}", r.Id, history.Detail);
            }
            else
            {
                return false;
            }
        }
        else
        {
            return false; // paused and healthy
        }
        if (!await store.UpdateRolloutAsync(next, r.Revision, rows, [history], ct))
            logger.LogInformation("Rollout {Rollout} changed while it was evaluated; evaluating again", r.Id);
        return true;
    }

    /// <summary>False without a publisher or when it is the release signer of a hub without signing keys.</summary>
    public static bool CanPublish(IDeviceAssignmentPublisher? publisher) => publisher is not (null or ReleaseSigner { CanSign: false });

    internal static IEnumerable<RolloutDeviceRecord> Revert(IEnumerable<RolloutDeviceRecord> devices) =>
        devices.Where(d => d.Action == RolloutDeviceAction.Assigned).Select(d => d with { Action = RolloutDeviceAction.Reverted, Published = false });

    private static string Names(IEnumerable<string> ids)
    {
        var list = ids.ToList();
        return list.Count <= 10 ? string.Join(", ", list) : string.Join(", ", list.Take(10)) + $" and {list.Count - 10} more";
    }

    /// <summary>
    /// What the device ran before, for a rollback: its current assignment of the family, else the model it
    /// reports running (<c>FAMILY@VERSION</c> in its status), else null (rollback then drops the family).
    /// </summary>
    private async Task<string?> PreviousTargetAsync(DeviceRecord device, string family, CancellationToken ct)
    {
        if (publisher is not null && await publisher.GetAsync(device.Id, ct) is { } current && current.Models.TryGetValue(family, out var target))
            return target;
        if (device.ActiveModel is { } active && active.StartsWith(family + "@", StringComparison.Ordinal))
        {
            var version = active[(family.Length + 1)..];
            if (BundleLayout.IsName(version)) return BundleLayout.TargetPath(family, version);
        }
        return null;
    }

    private async Task PublishPendingAsync(string id, CancellationToken ct)
    {
        var r = await store.GetRolloutAsync(id, ct);
        if (r is null) return;
        var pending = (await store.ListRolloutDevicesAsync(id, ct)).Where(d => !d.Published).ToList();
        if (pending.Count == 0) return;
        if (!CanPublish(publisher))
        {
            if (!_warnedNoPublisher)
                logger.LogWarning("Rollout {Rollout}: {Count} assignment(s) wait for a device assignment publisher (release signing is not configured on this hub)", id, pending.Count);
            _warnedNoPublisher = true;
            return;
        }
        var now = time.GetUtcNow();
        var batch = new List<DeviceAssignment>(pending.Count);
        foreach (var row in pending)
        {
            var current = await publisher!.GetAsync(row.DeviceId, ct);
            var models = new Dictionary<string, string>(current?.Models ?? [], StringComparer.Ordinal);
            if (row.Action == RolloutDeviceAction.Assigned) models[r.Family] = r.Target;
            else if (row.PreviousTarget is { } previous) models[r.Family] = previous;
            else models.Remove(r.Family);
            batch.Add(new DeviceAssignment { DeviceId = row.DeviceId, Models = models, Rollout = r.Id, IssuedAt = now });
        }
        try
        {
            await publisher!.PublishAsync(batch, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError(e, "Rollout {Rollout}: publishing {Count} assignment(s) failed; retrying at the next tick", id, batch.Count);
            return;
        }
        foreach (var group in pending.GroupBy(p => p.Action))
            await store.MarkRolloutDevicesPublishedAsync(id, [.. group.Select(g => g.DeviceId)], group.Key, ct);
    }
}
