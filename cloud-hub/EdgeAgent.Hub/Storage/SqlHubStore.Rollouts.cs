using System.Data.Common;
using System.Text.Json;
using EdgeAgent.Hub.Rollouts;

namespace EdgeAgent.Hub.Storage;

public abstract partial class SqlHubStore
{
    public async Task<int> StoreUpdateEventsAsync(IReadOnlyList<DeviceUpdateEvent> events, DateTimeOffset receivedAt, CancellationToken ct = default)
    {
        if (events.Count == 0) return 0;
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        int inserted = 0;
        foreach (var e in events) inserted += await ApplyUpdateEventAsync(c, tx, e, receivedAt, ct);
        await tx.CommitAsync(ct);
        return inserted;
    }

    /// <summary>Stores one update transition unless already stored (1 when new) and moves the device's state forward.</summary>
    private static async Task<int> ApplyUpdateEventAsync(DbConnection c, DbTransaction tx, DeviceUpdateEvent e, DateTimeOffset receivedAt, CancellationToken ct)
    {
        int inserted = await ExecAsync(c, tx, """
            INSERT INTO device_update_events (device_id, boot_id, seq, family, version, release_counter, from_phase, to_phase, reason, code, metrics, at, received_at)
            VALUES (@d, @b, @s, @f, @v, @rc, @fp, @tp, @r, @c, @m, @at, @ra) ON CONFLICT (device_id, boot_id, seq) DO NOTHING
            """, ct, ("d", e.DeviceId), ("b", e.BootId), ("s", e.Seq), ("f", e.Family), ("v", e.Version), ("rc", e.ReleaseCounter),
            ("fp", e.From), ("tp", e.To), ("r", e.Reason), ("c", e.Code), ("m", e.Metrics), ("at", e.At.ToUnixTimeMilliseconds()),
            ("ra", receivedAt.ToUnixTimeMilliseconds()));
        // Newest by the device's clock wins: a redelivered or late older batch must not move the state back.
        await ExecAsync(c, tx, """
            INSERT INTO device_update_state (device_id, family, version, release_counter, phase, reason, code, at)
            VALUES (@d, @f, @v, @rc, @p, @r, @c, @at)
            ON CONFLICT (device_id, family) DO UPDATE SET version = excluded.version, release_counter = excluded.release_counter,
              phase = excluded.phase, reason = excluded.reason, code = excluded.code, at = excluded.at
            WHERE device_update_state.at <= excluded.at
            """, ct, ("d", e.DeviceId), ("f", e.Family), ("v", e.Version), ("rc", e.ReleaseCounter), ("p", e.To), ("r", e.Reason),
            ("c", e.Code), ("at", e.At.ToUnixTimeMilliseconds()));
        return inserted;
    }

    public async Task<IReadOnlyList<DeviceUpdateEvent>> ListDeviceUpdatesAsync(string deviceId, int limit, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, """
            SELECT device_id, boot_id, seq, family, version, release_counter, from_phase, to_phase, reason, code, metrics, at
            FROM device_update_events WHERE device_id = @d ORDER BY at DESC, boot_id DESC, seq DESC LIMIT @l
            """, r => new DeviceUpdateEvent(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4), r.GetInt64(5),
                r.GetString(6), r.GetString(7), Str(r, 8), Str(r, 9), Str(r, 10), Ms(r.GetInt64(11))), ct, ("d", deviceId), ("l", limit));
    }

    public async Task<IReadOnlyList<DeviceUpdateState>> ListDeviceUpdateStatesAsync(string family, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, "SELECT device_id, family, version, release_counter, phase, reason, code, at FROM device_update_state WHERE family = @f ORDER BY device_id",
            r => new DeviceUpdateState(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetString(4), Str(r, 5), Str(r, 6), Ms(r.GetInt64(7))),
            ct, ("f", family));
    }

    public async Task<long> CurrentReleaseCounterAsync(string family, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var v = await ScalarAsync(c, null, """
            SELECT COALESCE(MAX(rc), 0) FROM (
              SELECT MAX(release_counter) AS rc FROM device_update_events WHERE family = @f AND to_phase = 'committed'
              UNION ALL
              SELECT MAX(release_counter) AS rc FROM rollouts WHERE family = @f AND state = 'completed') AS counters
            """, ct, ("f", family));
        return v is null ? 0 : Convert.ToInt64(v);
    }

    private const string RolloutColumns =
        "id, family, version, release_counter, cohort, steps, thresholds, state, step_index, step_started_at, reason, created_by, created_at, updated_at, finished_at, revision";

    public async Task<bool> CreateRolloutAsync(RolloutRecord rollout, RolloutEventRecord created, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        try
        {
            await ExecAsync(c, tx, $"""
                INSERT INTO rollouts ({RolloutColumns})
                VALUES (@id, @f, @v, @rc, @co, @st, @th, @s, @si, @ss, @r, @cb, @ca, @ua, @fa, @rev)
                """, ct, RolloutArgs(rollout));
        }
        catch (DbException e) when (IsUniqueViolation(e))
        {
            await tx.RollbackAsync(ct);
            return false;
        }
        await AppendRolloutEventAsync(c, tx, rollout.Id, created, ct);
        await tx.CommitAsync(ct);
        return true;
    }

    private static (string, object?)[] RolloutArgs(RolloutRecord r) =>
    [
        ("id", r.Id), ("f", r.Family), ("v", r.Version), ("rc", r.ReleaseCounter),
        ("co", JsonSerializer.Serialize(new Dictionary<string, string>(r.Cohort), RolloutJsonContext.Default.DictionaryStringString)),
        ("st", JsonSerializer.Serialize(r.Steps.ToList(), RolloutJsonContext.Default.ListRolloutStep)),
        ("th", JsonSerializer.Serialize(r.Thresholds, RolloutJsonContext.Default.RolloutThresholds)),
        ("s", r.State.Wire()), ("si", (long)r.StepIndex), ("ss", r.StepStartedAt.ToUnixTimeMilliseconds()), ("r", r.Reason),
        ("cb", r.CreatedBy), ("ca", r.CreatedAt.ToUnixTimeMilliseconds()), ("ua", r.UpdatedAt.ToUnixTimeMilliseconds()),
        ("fa", r.FinishedAt is { } f ? f.ToUnixTimeMilliseconds() : DBNull.Value), ("rev", r.Revision),
    ];

    private static RolloutRecord ReadRollout(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3),
        JsonSerializer.Deserialize(r.GetString(4), RolloutJsonContext.Default.DictionaryStringString) ?? [],
        JsonSerializer.Deserialize(r.GetString(5), RolloutJsonContext.Default.ListRolloutStep) ?? [],
        JsonSerializer.Deserialize(r.GetString(6), RolloutJsonContext.Default.RolloutThresholds) ?? RolloutThresholds.Default,
        RolloutStates.Parse(r.GetString(7)), (int)r.GetInt64(8), Ms(r.GetInt64(9)), Str(r, 10), r.GetString(11),
        Ms(r.GetInt64(12)), Ms(r.GetInt64(13)), r.IsDBNull(14) ? null : Ms(r.GetInt64(14)), r.GetInt64(15));

    public async Task<RolloutRecord?> GetRolloutAsync(string id, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var rows = await QueryAsync(c, $"SELECT {RolloutColumns} FROM rollouts WHERE id = @id", ReadRollout, ct, ("id", id));
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyList<RolloutRecord>> ListRolloutsAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, $"SELECT {RolloutColumns} FROM rollouts ORDER BY created_at DESC, id", ReadRollout, ct);
    }

    public async Task<bool> UpdateRolloutAsync(RolloutRecord rollout, long expectedRevision, IReadOnlyList<RolloutDeviceRecord> devices,
        IReadOnlyList<RolloutEventRecord> history, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        int updated;
        try
        {
            updated = await ExecAsync(c, tx, """
                UPDATE rollouts SET state = @s, step_index = @si, step_started_at = @ss, reason = @r, updated_at = @ua, finished_at = @fa, revision = @rev
                WHERE id = @id AND revision = @expected
                """, ct, ("id", rollout.Id), ("s", rollout.State.Wire()), ("si", (long)rollout.StepIndex),
                ("ss", rollout.StepStartedAt.ToUnixTimeMilliseconds()), ("r", rollout.Reason), ("ua", rollout.UpdatedAt.ToUnixTimeMilliseconds()),
                ("fa", rollout.FinishedAt is { } f ? f.ToUnixTimeMilliseconds() : DBNull.Value), ("rev", expectedRevision + 1), ("expected", expectedRevision));
        }
        catch (DbException e) when (IsUniqueViolation(e))
        {
            // Resuming into a family that meanwhile got another active rollout.
            await tx.RollbackAsync(ct);
            return false;
        }
        if (updated != 1)
        {
            await tx.RollbackAsync(ct);
            return false;
        }
        foreach (var d in devices)
        {
            await ExecAsync(c, tx, """
                INSERT INTO rollout_devices (rollout_id, device_id, step_index, assigned_at, previous_target, action, published)
                VALUES (@r, @d, @s, @at, @p, @a, @pub)
                ON CONFLICT (rollout_id, device_id) DO UPDATE SET action = excluded.action, published = excluded.published
                """, ct, ("r", d.RolloutId), ("d", d.DeviceId), ("s", (long)d.StepIndex), ("at", d.AssignedAt.ToUnixTimeMilliseconds()),
                ("p", d.PreviousTarget), ("a", ActionWire(d.Action)), ("pub", d.Published ? 1L : 0L));
        }
        foreach (var h in history) await AppendRolloutEventAsync(c, tx, rollout.Id, h, ct);
        await tx.CommitAsync(ct);
        return true;
    }

    private static string ActionWire(RolloutDeviceAction a) => a == RolloutDeviceAction.Assigned ? "assigned" : "reverted";

    private static Task<int> AppendRolloutEventAsync(DbConnection c, DbTransaction tx, string rolloutId, RolloutEventRecord h, CancellationToken ct) =>
        ExecAsync(c, tx, "INSERT INTO rollout_events (rollout_id, at, actor, action, detail) VALUES (@r, @at, @a, @w, @d)", ct,
            ("r", rolloutId), ("at", h.At.ToUnixTimeMilliseconds()), ("a", h.Actor), ("w", h.Action), ("d", h.Detail));

    public async Task<IReadOnlyList<RolloutDeviceRecord>> ListRolloutDevicesAsync(string rolloutId, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, """
            SELECT rollout_id, device_id, step_index, assigned_at, previous_target, action, published
            FROM rollout_devices WHERE rollout_id = @r ORDER BY step_index, device_id
            """, r => new RolloutDeviceRecord(r.GetString(0), r.GetString(1), (int)r.GetInt64(2), Ms(r.GetInt64(3)), Str(r, 4),
                r.GetString(5) == "assigned" ? RolloutDeviceAction.Assigned : RolloutDeviceAction.Reverted, r.GetInt64(6) != 0), ct, ("r", rolloutId));
    }

    public async Task<int> MarkRolloutDevicesPublishedAsync(string rolloutId, IReadOnlyList<string> deviceIds, RolloutDeviceAction action, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        int marked = 0;
        foreach (var d in deviceIds)
        {
            marked += await ExecAsync(c, tx, "UPDATE rollout_devices SET published = 1 WHERE rollout_id = @r AND device_id = @d AND action = @a", ct,
                ("r", rolloutId), ("d", d), ("a", ActionWire(action)));
        }
        await tx.CommitAsync(ct);
        return marked;
    }

    public async Task<IReadOnlyList<RolloutEventRecord>> ListRolloutEventsAsync(string rolloutId, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, "SELECT at, actor, action, detail FROM rollout_events WHERE rollout_id = @r ORDER BY id",
            r => new RolloutEventRecord(Ms(r.GetInt64(0)), r.GetString(1), r.GetString(2), Str(r, 3)), ct, ("r", rolloutId));
    }

    public async Task<bool> TryLeaseRolloutAsync(string id, string owner, DateTimeOffset now, DateTimeOffset until, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        // One conditional UPDATE is atomic in both dialects: of two instances racing, one sees the other's row.
        return await ExecAsync(c, null, """
            UPDATE rollouts SET lease_owner = @o, lease_until = @u
            WHERE id = @id AND (lease_owner IS NULL OR lease_until < @now OR lease_owner = @o)
            """, ct, ("o", owner), ("u", until.ToUnixTimeMilliseconds()), ("id", id), ("now", now.ToUnixTimeMilliseconds())) == 1;
    }

    public async Task ReleaseRolloutLeaseAsync(string id, string owner, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await ExecAsync(c, null, "UPDATE rollouts SET lease_owner = NULL, lease_until = NULL WHERE id = @id AND lease_owner = @o", ct, ("id", id), ("o", owner));
    }

    public async Task<IReadOnlyList<string>> ListRolloutsNeedingWorkAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, """
            SELECT id FROM rollouts WHERE state IN ('running', 'paused', 'halted')
               OR id IN (SELECT rollout_id FROM rollout_devices WHERE published = 0)
            ORDER BY created_at, id
            """, r => r.GetString(0), ct);
    }

    public async Task<IReadOnlyList<StoredEvent>> ListStreamEventsSinceAsync(IReadOnlyList<string> deviceIds, string stream, DateTimeOffset since, int limit, CancellationToken ct = default)
    {
        var all = new List<StoredEvent>();
        if (deviceIds.Count == 0 || limit <= 0) return all;
        await using var c = await OpenAsync(ct);
        // Chunks keep the parameter count far below both dialects' limits (SQLite 32766, PostgreSQL 65535).
        foreach (var chunk in deviceIds.Chunk(500))
        {
            var names = chunk.Select((_, i) => "d" + i).ToArray();
            var args = new List<(string, object?)> { ("s", stream), ("t", since.ToUnixTimeMilliseconds()), ("l", (long)(limit - all.Count)) };
            args.AddRange(chunk.Select((d, i) => (names[i], (object?)d)));
            all.AddRange(await QueryAsync(c, $"""
                SELECT device_id, boot_id, seq, stream, kind, ts, prio, data, bin FROM telemetry_events
                WHERE stream = @s AND ts >= @t AND kind = 'data' AND device_id IN ({string.Join(", ", names.Select(n => "@" + n))})
                ORDER BY ts DESC LIMIT @l
                """, r => new StoredEvent(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4), Ms(r.GetInt64(5)), (int)r.GetInt64(6),
                    Str(r, 7), r.IsDBNull(8) ? null : (byte[])r.GetValue(8)), ct, [.. args]));
            if (all.Count >= limit) break;
        }
        return all;
    }
}
