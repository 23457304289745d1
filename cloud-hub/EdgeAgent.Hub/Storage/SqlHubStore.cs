using System.Data;
using System.Data.Common;
using System.Text.Json;
using EdgeAgent.Hub.Api;

namespace EdgeAgent.Hub.Storage;

/// <summary>
/// The <see cref="IHubStore"/> logic shared by both dialects: the SQL is portable (SQLite ≥ 3.24 and
/// PostgreSQL both have <c>INSERT … ON CONFLICT</c>), only connections, schema types and the migration
/// lock differ. Thread-safe: each call uses its own pooled connection.
/// </summary>
public abstract partial class SqlHubStore : IHubStore
{
    public abstract string Kind { get; }

    /// <summary>Opens a ready-to-use connection (pooled).</summary>
    protected abstract ValueTask<DbConnection> OpenAsync(CancellationToken ct);

    /// <summary>Takes the lock that serialises migrations between hub instances, inside <paramref name="tx"/>.</summary>
    protected abstract Task LockForMigrationAsync(DbConnection connection, DbTransaction tx, CancellationToken ct);

    /// <summary>Maps a unique-key violation to true so callers can report "already exists".</summary>
    protected abstract bool IsUniqueViolation(DbException e);

    public abstract ValueTask DisposeAsync();

    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken ct = default)
    {
        var applied = new List<int>();
        await using var c = await OpenAsync(ct);
        await ExecAsync(c, null, "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)", ct);
        foreach (var m in SchemaMigrations.For(Kind))
        {
            await using var tx = await c.BeginTransactionAsync(ct);
            await LockForMigrationAsync(c, tx, ct);
            // Checked under the lock: another instance may have applied it a moment ago.
            var exists = await ScalarAsync(c, tx, "SELECT COUNT(*) FROM schema_migrations WHERE version = @v", ct, ("v", m.Version));
            if (Convert.ToInt64(exists) > 0) { await tx.RollbackAsync(ct); continue; }
            foreach (var sql in m.Statements) await ExecAsync(c, tx, sql, ct);
            await ExecAsync(c, tx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@v, @n, @t)", ct,
                ("v", m.Version), ("n", m.Name), ("t", Now()));
            await tx.CommitAsync(ct);
            applied.Add(m.Version);
        }
        return applied;
    }

    public async Task<IReadOnlyList<int>> AppliedMigrationsAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, "SELECT version FROM schema_migrations ORDER BY version", r => (int)r.GetInt64(0), ct);
    }

    public async Task CreateTokenAsync(ApiTokenRecord token, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await ExecAsync(c, null, "INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES (@id, @n, @r, @h, @t)", ct,
            ("id", token.Id), ("n", token.Name), ("r", HubRoles.WireName(token.Role)), ("h", token.TokenHash), ("t", token.CreatedAt.ToUnixTimeMilliseconds()));
    }

    public async Task<ApiTokenRecord?> FindTokenByHashAsync(string tokenHash, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var rows = await QueryAsync(c, "SELECT id, name, role, token_hash, created_at FROM api_tokens WHERE token_hash = @h", ReadToken, ct, ("h", tokenHash));
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyList<ApiTokenRecord>> ListTokensAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, "SELECT id, name, role, token_hash, created_at FROM api_tokens ORDER BY created_at, id", ReadToken, ct);
    }

    private static ApiTokenRecord ReadToken(DbDataReader r) => new(r.GetString(0), r.GetString(1),
        HubRoles.TryParse(r.GetString(2), out var role) ? role : throw new HubStoreException($"token {r.GetString(0)} has unknown role '{r.GetString(2)}'"),
        r.GetString(3), Ms(r.GetInt64(4)));

    public async Task AppendAuditAsync(AuditEntry entry, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await ExecAsync(c, null, "INSERT INTO audit_log (at, actor, action, target, status, detail) VALUES (@at, @a, @w, @t, @s, @d)", ct,
            ("at", entry.At.ToUnixTimeMilliseconds()), ("a", entry.Actor), ("w", entry.Action), ("t", entry.Target), ("s", entry.Status), ("d", entry.Detail));
    }

    public async Task<IReadOnlyList<AuditEntry>> ListAuditAsync(int limit, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, "SELECT id, at, actor, action, target, status, detail FROM audit_log ORDER BY id DESC LIMIT @l",
            r => new AuditEntry(r.GetInt64(0), Ms(r.GetInt64(1)), r.GetString(2), r.GetString(3), Str(r, 4), (int)r.GetInt64(5), Str(r, 6)), ct, ("l", limit));
    }

    public async Task<bool> CreateDeviceAsync(string id, IReadOnlyDictionary<string, string> labels, DateTimeOffset createdAt, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await ExecAsync(c, null, "INSERT INTO devices (id, labels, created_at) VALUES (@id, @l, @t) ON CONFLICT (id) DO NOTHING", ct,
            ("id", id), ("l", LabelsJson(labels)), ("t", createdAt.ToUnixTimeMilliseconds())) == 1;
    }

    public async Task<bool> SetDeviceLabelsAsync(string id, IReadOnlyDictionary<string, string> labels, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await ExecAsync(c, null, "UPDATE devices SET labels = @l WHERE id = @id", ct, ("id", id), ("l", LabelsJson(labels))) == 1;
    }

    public async Task RecordHardCaseAsync(HardCaseRecord h, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await ExecAsync(c, null, """
            INSERT INTO hard_cases (at, device_id, model, window_index, window_end, reason, local_label, local_confidence,
                                    cloud_label, cloud_confidence, cloud_model, error, request_json)
            VALUES (@at, @d, @m, @w, @we, @r, @ll, @lc, @cl, @cc, @cm, @e, @j)
            """, ct, ("at", h.At.ToUnixTimeMilliseconds()), ("d", h.DeviceId), ("m", h.Model), ("w", h.Window),
            ("we", h.WindowEnd.ToUnixTimeMilliseconds()), ("r", h.Reason), ("ll", h.LocalLabel), ("lc", h.LocalConfidence),
            ("cl", h.CloudLabel), ("cc", (object?)h.CloudConfidence ?? NullDouble), ("cm", h.CloudModel), ("e", h.Error), ("j", h.RequestJson));
    }

    public async Task<IReadOnlyList<HardCaseRecord>> ListHardCasesAsync(string? deviceId, int limit, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        // Two statements rather than "@d IS NULL": PostgreSQL cannot type an untyped null parameter.
        string where = deviceId is null ? "" : "WHERE device_id = @d";
        return await QueryAsync(c, $"""
            SELECT id, at, device_id, model, window_index, window_end, reason, local_label, local_confidence,
                   cloud_label, cloud_confidence, cloud_model, error, request_json
            FROM hard_cases {where} ORDER BY id DESC LIMIT @l
            """, r => new HardCaseRecord(r.GetInt64(0), Ms(r.GetInt64(1)), r.GetString(2), r.GetString(3), r.GetInt64(4), Ms(r.GetInt64(5)),
                r.GetString(6), r.GetString(7), r.GetDouble(8), Str(r, 9), r.IsDBNull(10) ? null : r.GetDouble(10), Str(r, 11), Str(r, 12), r.GetString(13)),
            ct, ("d", deviceId ?? ""), ("l", limit));
    }

    public async Task<bool> SetDeviceRevokedAsync(string id, DateTimeOffset? revokedAt, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await ExecAsync(c, null, "UPDATE devices SET revoked_at = @t WHERE id = @id", ct,
            ("id", id), ("t", revokedAt is { } at ? at.ToUnixTimeMilliseconds() : DBNull.Value)) == 1;
    }

    public async Task<bool> DeleteDeviceAsync(string id, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await ExecAsync(c, null, "DELETE FROM devices WHERE id = @id", ct, ("id", id)) == 1;
    }

    private const string DeviceColumns = "id, labels, created_at, online, agent_version, active_model, update_state, health, status_json, status_at, revoked_at";

    public async Task<DeviceRecord?> GetDeviceAsync(string id, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var rows = await QueryAsync(c, $"SELECT {DeviceColumns} FROM devices WHERE id = @id", ReadDevice, ct, ("id", id));
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<IReadOnlyList<DeviceRecord>> ListDevicesAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, $"SELECT {DeviceColumns} FROM devices ORDER BY id", ReadDevice, ct);
    }

    private static DeviceRecord ReadDevice(DbDataReader r) => new(
        r.GetString(0),
        JsonSerializer.Deserialize(r.GetString(1), HubJsonContext.Default.DictionaryStringString) ?? [],
        Ms(r.GetInt64(2)),
        r.IsDBNull(3) ? null : r.GetInt64(3) != 0,
        Str(r, 4), Str(r, 5), Str(r, 6), Str(r, 7), Str(r, 8),
        r.IsDBNull(9) ? null : Ms(r.GetInt64(9)),
        r.IsDBNull(10) ? null : Ms(r.GetInt64(10)));

    public async Task RecordDeviceStatusAsync(string id, DeviceStatusReport report, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await ExecAsync(c, null, """
            INSERT INTO devices (id, labels, created_at, online, agent_version, active_model, update_state, health, status_json, status_at)
            VALUES (@id, '{}', @t, @on, @av, @am, @us, @h, @j, @t)
            ON CONFLICT (id) DO UPDATE SET online = excluded.online, agent_version = excluded.agent_version,
              active_model = excluded.active_model, update_state = excluded.update_state, health = excluded.health,
              status_json = excluded.status_json, status_at = excluded.status_at
            WHERE devices.status_at IS NULL OR devices.status_at <= excluded.status_at
            """, ct,
            ("id", id), ("t", report.ReceivedAt.ToUnixTimeMilliseconds()), ("on", report.Online ? 1L : 0L),
            ("av", report.AgentVersion), ("am", report.ActiveModel), ("us", report.UpdateState), ("h", report.Health), ("j", report.RawJson));
    }

    public async Task<TelemetryWriteResult> StoreTelemetryAsync(IReadOnlyList<StoredEvent> events, IReadOnlyList<TelemetryGap> gaps, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        int inserted = 0, recorded = 0;
        long now = Now();
        if (events.Count > 0) inserted = await InsertEventsAsync(c, tx, events, now, null, ct);
        foreach (var g in gaps) recorded += await InsertGapAsync(c, tx, g, ct);
        await tx.CommitAsync(ct);
        return new TelemetryWriteResult(inserted, recorded);
    }

    /// <summary>Records a gap unless already recorded; 1 when new.</summary>
    private static Task<int> InsertGapAsync(DbConnection c, DbTransaction tx, TelemetryGap g, CancellationToken ct) =>
        ExecAsync(c, tx, """
            INSERT INTO telemetry_gaps (device_id, boot_id, stream, from_seq, to_seq, count, reason, recorded_at)
            VALUES (@d, @b, @s, @f, @t, @n, @r, @at) ON CONFLICT (device_id, boot_id, stream, from_seq, to_seq) DO NOTHING
            """, ct, ("d", g.DeviceId), ("b", g.BootId), ("s", g.Stream), ("f", g.FromSeq), ("t", g.ToSeq), ("n", g.Count), ("r", g.Reason),
            ("at", g.RecordedAt.ToUnixTimeMilliseconds()));

    /// <summary>
    /// Inserts events that are not stored yet (insert-if-absent on the primary key); returns how many were new.
    /// The default reuses one prepared command per row inside the caller's transaction (cheap for an
    /// in-process database); <see cref="PostgresHubStore"/> sends the whole batch in one statement.
    /// </summary>
    /// <param name="inserted">Null, or one flag per event set to true for each event this call stored (false: it was already there).</param>
    protected virtual async Task<int> InsertEventsAsync(DbConnection c, DbTransaction tx, IReadOnlyList<StoredEvent> events, long receivedAt, bool[]? inserted, CancellationToken ct)
    {
        int count = 0;
        await using var cmd = Command(c, tx, """
            INSERT INTO telemetry_events (device_id, boot_id, seq, stream, kind, ts, prio, data, bin, received_at)
            VALUES (@d, @b, @s, @st, @k, @ts, @p, @data, @bin, @r) ON CONFLICT (device_id, boot_id, seq) DO NOTHING
            """);
        var p = AddParameters(cmd, "d", "b", "s", "st", "k", "ts", "p", "data", "bin", "r");
        p[7].DbType = DbType.String;
        p[8].DbType = DbType.Binary;
        for (int i = 0; i < events.Count; i++)
        {
            var e = events[i];
            p[0].Value = e.DeviceId; p[1].Value = e.BootId; p[2].Value = e.Seq; p[3].Value = e.Stream; p[4].Value = e.Kind;
            p[5].Value = e.Ts.ToUnixTimeMilliseconds(); p[6].Value = (long)e.Prio;
            p[7].Value = (object?)e.Data ?? DBNull.Value; p[8].Value = (object?)e.Bin ?? DBNull.Value; p[9].Value = receivedAt;
            int n = await cmd.ExecuteNonQueryAsync(ct);
            if (inserted is not null) inserted[i] = n == 1;
            count += n;
        }
        return count;
    }

    public async Task<IReadOnlyList<StoredEvent>> ListEventsAsync(string deviceId, int limit, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, "SELECT device_id, boot_id, seq, stream, kind, ts, prio, data, bin FROM telemetry_events WHERE device_id = @d ORDER BY boot_id, seq LIMIT @l",
            r => new StoredEvent(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4), Ms(r.GetInt64(5)), (int)r.GetInt64(6),
                Str(r, 7), r.IsDBNull(8) ? null : (byte[])r.GetValue(8)), ct, ("d", deviceId), ("l", limit));
    }

    public async Task<long> CountEventsAsync(string? deviceId = null, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var v = deviceId is null
            ? await ScalarAsync(c, null, "SELECT COUNT(*) FROM telemetry_events", ct)
            : await ScalarAsync(c, null, "SELECT COUNT(*) FROM telemetry_events WHERE device_id = @d", ct, ("d", deviceId));
        return Convert.ToInt64(v);
    }

    public async Task<IReadOnlyList<TelemetryGap>> ListGapsAsync(string deviceId, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, "SELECT device_id, boot_id, stream, from_seq, to_seq, count, reason, recorded_at FROM telemetry_gaps WHERE device_id = @d ORDER BY boot_id, from_seq",
            r => new TelemetryGap(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetInt64(4), r.GetInt64(5), r.GetString(6), Ms(r.GetInt64(7))),
            ct, ("d", deviceId));
    }

    public async Task<long> DeleteTelemetryBeforeAsync(DateTimeOffset cutoff, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        long ms = cutoff.ToUnixTimeMilliseconds();
        long deleted = await ExecAsync(c, tx, "DELETE FROM telemetry_events WHERE ts < @c", ct, ("c", ms));
        await ExecAsync(c, tx, "DELETE FROM telemetry_gaps WHERE recorded_at < @c", ct, ("c", ms));
        // Days are ISO dates, so text comparison orders them; a window is kept while its day may still hold newer data.
        await ExecAsync(c, tx, "DELETE FROM drift_windows WHERE day < @d", ct, ("d", DateOnly.FromDateTime(cutoff.UtcDateTime).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)));
        await tx.CommitAsync(ct);
        return deleted;
    }

    public async Task<int> StoreDriftWindowsAsync(IReadOnlyList<DriftWindowRecord> windows, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        int stored = 0;
        foreach (var w in windows) stored += await InsertDriftWindowAsync(c, tx, w, ct);
        await tx.CommitAsync(ct);
        return stored;
    }

    /// <summary>Stores a drift window unless already stored; 1 when new.</summary>
    private static Task<int> InsertDriftWindowAsync(DbConnection c, DbTransaction tx, DriftWindowRecord w, CancellationToken ct) =>
        ExecAsync(c, tx, """
            INSERT INTO drift_windows (device_id, boot_id, seq, model, model_version, feature, day, sketch)
            VALUES (@d, @b, @s, @m, @v, @f, @day, @k) ON CONFLICT (device_id, boot_id, seq) DO NOTHING
            """, ct, ("d", w.DeviceId), ("b", w.BootId), ("s", w.Seq), ("m", w.Model), ("v", w.ModelVersion), ("f", w.Feature),
            ("day", Day(w.Day)), ("k", w.Sketch));

    public async Task<IReadOnlyList<DriftWindowRecord>> ListDriftWindowsAsync(string model, string modelVersion, DateOnly day, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, "SELECT device_id, boot_id, seq, model, model_version, feature, day, sketch FROM drift_windows WHERE model = @m AND model_version = @v AND day = @day ORDER BY feature, device_id, boot_id, seq",
            r => new DriftWindowRecord(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4), r.GetString(5),
                DateOnly.ParseExact(r.GetString(6), "yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), (byte[])r.GetValue(7)),
            ct, ("m", model), ("v", modelVersion), ("day", Day(day)));
    }

    public async Task RecordRejectedMessageAsync(string topic, string reason, ReadOnlyMemory<byte> payload, DateTimeOffset at, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await InsertRejectedAsync(c, null, topic, reason, payload, at, ct);
    }

    private static Task<int> InsertRejectedAsync(DbConnection c, DbTransaction? tx, string topic, string reason, ReadOnlyMemory<byte> payload, DateTimeOffset at, CancellationToken ct) =>
        ExecAsync(c, tx, "INSERT INTO rejected_messages (at, topic, reason, payload) VALUES (@at, @t, @r, @p)", ct,
            ("at", at.ToUnixTimeMilliseconds()), ("t", topic), ("r", reason), ("p", payload.ToArray()));

    public async Task<IReadOnlyList<RejectedMessage>> ListRejectedMessagesAsync(int limit, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, "SELECT id, at, topic, reason, payload FROM rejected_messages ORDER BY id DESC LIMIT @l",
            r => new RejectedMessage(r.GetInt64(0), Ms(r.GetInt64(1)), r.GetString(2), r.GetString(3), (byte[])r.GetValue(4)), ct, ("l", limit));
    }

    public async Task RegisterModelAsync(ModelRecord model, byte[] onnx, byte[]? bundle, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        try
        {
            await ExecAsync(c, null, """
                INSERT INTO models (name, version, size_bytes, sha256, contract, manifest, reference_profile, onnx, registered_by, registered_at, bundle)
                VALUES (@n, @v, @sz, @h, @c, @m, @rp, @o, @by, @at, @bu)
                """, ct, ("n", model.Name), ("v", model.Version), ("sz", model.SizeBytes), ("h", model.Sha256), ("c", model.Contract),
                ("m", model.Manifest), ("rp", (object?)model.ReferenceProfile ?? NullBinary), ("o", onnx), ("by", model.RegisteredBy), ("at", model.RegisteredAt.ToUnixTimeMilliseconds()), ("bu", (object?)bundle ?? NullBinary));
        }
        catch (DbException e) when (IsUniqueViolation(e))
        {
            throw new HubStoreException($"model '{model.Name}' version '{model.Version}' is already registered; versions are immutable, register a new version", e);
        }
    }

    private const string ModelColumns = "name, version, size_bytes, sha256, contract, manifest, reference_profile, registered_by, registered_at";

    public async Task<ModelRecord?> GetModelAsync(string name, string version, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var rows = await QueryAsync(c, $"SELECT {ModelColumns} FROM models WHERE name = @n AND version = @v", ReadModel, ct, ("n", name), ("v", version));
        return rows.Count == 0 ? null : rows[0];
    }

    public async Task<byte[]?> GetModelOnnxAsync(string name, string version, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await ScalarAsync(c, null, "SELECT onnx FROM models WHERE name = @n AND version = @v", ct, ("n", name), ("v", version)) as byte[];
    }

    public async Task<byte[]?> GetModelBundleAsync(string name, string version, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await ScalarAsync(c, null, "SELECT bundle FROM models WHERE name = @n AND version = @v", ct, ("n", name), ("v", version)) as byte[];
    }

    public async Task<IReadOnlyList<ModelRecord>> ListModelsAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, $"SELECT {ModelColumns} FROM models ORDER BY name, registered_at", ReadModel, ct);
    }

    private static ModelRecord ReadModel(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetString(3), r.GetString(4),
        (byte[])r.GetValue(5), r.IsDBNull(6) ? null : (byte[])r.GetValue(6), r.GetString(7), Ms(r.GetInt64(8)));

    /// <summary>Raw SQL for tests that prove the schema itself refuses tampering (e.g. UPDATE on the audit log).</summary>
    internal async Task<int> ExecuteRawForTestsAsync(string sql)
    {
        await using var c = await OpenAsync(CancellationToken.None);
        return await ExecAsync(c, null, sql, CancellationToken.None);
    }

    // ---- plumbing ----

    protected static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static DateTimeOffset Ms(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms);

    private static string? Str(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static string Day(DateOnly d) => d.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

    private static string LabelsJson(IReadOnlyDictionary<string, string> labels) =>
        JsonSerializer.Serialize(new Dictionary<string, string>(labels), HubJsonContext.Default.DictionaryStringString);

    protected static DbCommand Command(DbConnection c, DbTransaction? tx, string sql)
    {
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        return cmd;
    }

    private static DbParameter[] AddParameters(DbCommand cmd, params string[] names)
    {
        var ps = new DbParameter[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            ps[i] = cmd.CreateParameter();
            ps[i].ParameterName = names[i];
            cmd.Parameters.Add(ps[i]);
        }
        return ps;
    }

    /// <summary>A NULL of a given column type: a plain null is bound as text, which PostgreSQL refuses for BYTEA or DOUBLE PRECISION.</summary>
    private sealed record TypedNull(DbType Type);

    /// <summary>A NULL for a binary column.</summary>
    private static readonly object NullBinary = new TypedNull(DbType.Binary);

    /// <summary>A NULL for a DOUBLE PRECISION column.</summary>
    private static readonly object NullDouble = new TypedNull(DbType.Double);

    private static void Bind(DbCommand cmd, (string Name, object? Value)[] args)
    {
        foreach (var (name, value) in args)
        {
            var p = cmd.CreateParameter();
            p.ParameterName = name;
            if (value is TypedNull typed)
            {
                p.DbType = typed.Type;
                p.Value = DBNull.Value;
                cmd.Parameters.Add(p);
                continue;
            }
            p.Value = value ?? DBNull.Value;
            // Untyped NULLs are ambiguous for PostgreSQL: say what they are.
            if (value is null) p.DbType = DbType.String;
            if (value is byte[]) p.DbType = DbType.Binary;
            cmd.Parameters.Add(p);
        }
    }

    protected static async Task<int> ExecAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct, params (string, object?)[] args)
    {
        await using var cmd = Command(c, tx, sql);
        Bind(cmd, args);
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    protected static async Task<object?> ScalarAsync(DbConnection c, DbTransaction? tx, string sql, CancellationToken ct, params (string, object?)[] args)
    {
        await using var cmd = Command(c, tx, sql);
        Bind(cmd, args);
        var v = await cmd.ExecuteScalarAsync(ct);
        return v is DBNull ? null : v;
    }

    private static async Task<IReadOnlyList<T>> QueryAsync<T>(DbConnection c, string sql, Func<DbDataReader, T> read, CancellationToken ct, params (string, object?)[] args)
    {
        await using var cmd = Command(c, null, sql);
        Bind(cmd, args);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        var list = new List<T>();
        while (await r.ReadAsync(ct)) list.Add(read(r));
        return list;
    }
}
