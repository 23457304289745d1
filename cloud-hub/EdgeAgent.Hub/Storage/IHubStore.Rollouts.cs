using EdgeAgent.Hub.Rollouts;

namespace EdgeAgent.Hub.Storage;

/// <summary>Update reports and staged rollouts (Rollouts/README.md). Same thread-safety contract as the rest of <see cref="IHubStore"/>.</summary>
public partial interface IHubStore
{
    /// <summary>
    /// Stores update transitions (already stored ones, same device/boot/seq, are skipped) and moves each
    /// device's per-family state to its newest transition by the device's clock, in one transaction.
    /// Returns the number of new transitions.
    /// </summary>
    Task<int> StoreUpdateEventsAsync(IReadOnlyList<DeviceUpdateEvent> events, DateTimeOffset receivedAt, CancellationToken ct = default);

    /// <summary>A device's update transitions, newest first.</summary>
    Task<IReadOnlyList<DeviceUpdateEvent>> ListDeviceUpdatesAsync(string deviceId, int limit, CancellationToken ct = default);

    /// <summary>Every device's newest transition for <paramref name="family"/>.</summary>
    Task<IReadOnlyList<DeviceUpdateState>> ListDeviceUpdateStatesAsync(string family, CancellationToken ct = default);

    /// <summary>
    /// The family's current release counter in the fleet: the highest counter any device committed or any
    /// completed rollout released; 0 when there is none.
    /// </summary>
    Task<long> CurrentReleaseCounterAsync(string family, CancellationToken ct = default);

    /// <summary>Creates a rollout with its first history line; false when the family already has an active rollout.</summary>
    Task<bool> CreateRolloutAsync(RolloutRecord rollout, RolloutEventRecord created, CancellationToken ct = default);

    Task<RolloutRecord?> GetRolloutAsync(string id, CancellationToken ct = default);

    /// <summary>Newest first.</summary>
    Task<IReadOnlyList<RolloutRecord>> ListRolloutsAsync(CancellationToken ct = default);

    /// <summary>
    /// Writes <paramref name="rollout"/> (its revision becomes <paramref name="expectedRevision"/> + 1), upserts
    /// its device rows and appends history, in one transaction — only if the stored revision is still
    /// <paramref name="expectedRevision"/>; false otherwise (someone else changed it: re-read and decide again).
    /// </summary>
    Task<bool> UpdateRolloutAsync(RolloutRecord rollout, long expectedRevision, IReadOnlyList<RolloutDeviceRecord> devices,
        IReadOnlyList<RolloutEventRecord> history, CancellationToken ct = default);

    Task<IReadOnlyList<RolloutDeviceRecord>> ListRolloutDevicesAsync(string rolloutId, CancellationToken ct = default);

    /// <summary>
    /// Marks device rows published — only those whose action is still <paramref name="action"/> (a row that
    /// changed meanwhile, e.g. reverted by an abort, stays unpublished and is published again). Returns rows marked.
    /// </summary>
    Task<int> MarkRolloutDevicesPublishedAsync(string rolloutId, IReadOnlyList<string> deviceIds, RolloutDeviceAction action, CancellationToken ct = default);

    /// <summary>Oldest first.</summary>
    Task<IReadOnlyList<RolloutEventRecord>> ListRolloutEventsAsync(string rolloutId, CancellationToken ct = default);

    /// <summary>
    /// Takes the evaluation lease of a rollout for <paramref name="owner"/> until <paramref name="until"/>
    /// when it is free, expired or already <paramref name="owner"/>'s; false when another instance holds it.
    /// </summary>
    Task<bool> TryLeaseRolloutAsync(string id, string owner, DateTimeOffset now, DateTimeOffset until, CancellationToken ct = default);

    Task ReleaseRolloutLeaseAsync(string id, string owner, CancellationToken ct = default);

    /// <summary>Ids of rollouts the engine must look at: active ones and ended ones with unpublished device rows.</summary>
    Task<IReadOnlyList<string>> ListRolloutsNeedingWorkAsync(CancellationToken ct = default);

    /// <summary>
    /// Events of <paramref name="stream"/> of these devices with time at or after <paramref name="since"/>,
    /// newest first, at most <paramref name="limit"/> (bounds the work of one health evaluation).
    /// </summary>
    Task<IReadOnlyList<StoredEvent>> ListStreamEventsSinceAsync(IReadOnlyList<string> deviceIds, string stream, DateTimeOffset since, int limit, CancellationToken ct = default);
}
