using System.Data.Common;

namespace EdgeAgent.Hub.Storage;

public abstract partial class SqlHubStore
{
    private const string TufMetadataColumns = "name, role, version, content, sha256, published_at";

    public async Task<T> PublishTufAsync<T>(Func<IReadOnlyDictionary<string, TufMetadataFile>, (TufPublication Publication, T Result)> build, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        // First statement of the transaction: a row lock in PostgreSQL (held to commit, so a second
        // publisher waits here and then reads what the first committed), SQLite's write lock otherwise.
        await ExecAsync(c, tx, "UPDATE tuf_publish_lock SET publications = publications + 1 WHERE id = 1", ct);
        var current = new Dictionary<string, TufMetadataFile>(StringComparer.Ordinal);
        await using (var cmd = Command(c, tx, $"""
            SELECT {TufMetadataColumns} FROM tuf_metadata m
            WHERE version = (SELECT MAX(version) FROM tuf_metadata x WHERE x.role = m.role)
            """))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                var f = ReadTufMetadata(r);
                current[f.Role] = f;
            }
        }
        var (publication, result) = build(current);
        if (publication.IsEmpty)
        {
            await tx.RollbackAsync(ct);
            return result;
        }
        try
        {
            await InsertRowsAsync(c, tx, "tuf_metadata (name, role, version, content, sha256, published_at)", "",
                publication.Metadata, m => [m.Name, m.Role, m.Version, m.Content, m.Sha256, m.PublishedAt.ToUnixTimeMilliseconds()], ct);
            await InsertRowsAsync(c, tx, "tuf_targets (url_path, target_path, sha256, length, content, published_at)", "ON CONFLICT (url_path) DO NOTHING",
                publication.Targets, t => [t.UrlPath, t.TargetPath, t.Sha256, (long)t.Content.Length, t.Content, t.PublishedAt.ToUnixTimeMilliseconds()], ct);
            if (publication.Release is { } rel)
                await ExecAsync(c, tx, """
                    INSERT INTO releases (model, version, target_path, release_counter, length, sha256, targets_version, published_by, published_at)
                    VALUES (@m, @v, @p, @rc, @l, @h, @tv, @by, @at)
                    """, ct, ("m", rel.Model), ("v", rel.Version), ("p", rel.TargetPath), ("rc", rel.ReleaseCounter), ("l", rel.Length),
                    ("h", rel.Sha256), ("tv", rel.TargetsVersion), ("by", rel.PublishedBy), ("at", rel.PublishedAt.ToUnixTimeMilliseconds()));
            await InsertRowsAsync(c, tx, "device_assignments (device_id, assignment, rollout, role_version, updated_at)", """
                ON CONFLICT (device_id) DO UPDATE SET assignment = excluded.assignment, rollout = excluded.rollout,
                  role_version = excluded.role_version, updated_at = excluded.updated_at
                """, publication.Assignments ?? [], a => [a.DeviceId, a.Assignment, a.Rollout, a.RoleVersion, a.UpdatedAt.ToUnixTimeMilliseconds()], ct);
        }
        catch (DbException e) when (IsUniqueViolation(e))
        {
            throw new HubStoreException($"publication refused: a metadata version or release it writes already exists ({e.Message}); nothing was published", e);
        }
        await tx.CommitAsync(ct);
        return result;
    }

    /// <summary>
    /// Inserts rows the cheap way for the dialect: PostgreSQL gets 100 rows per multi-row VALUES statement (a
    /// 1,000-device batch costs 10 round trips per table instead of 1,000); SQLite, in process, gets one
    /// prepared single-row command re-executed (Microsoft.Data.Sqlite looks parameters up by name, so one
    /// statement with hundreds of them costs more than re-running a small one; docs/bench/hub-releases.md).
    /// </summary>
    private async Task InsertRowsAsync<T>(DbConnection c, DbTransaction tx, string table, string onConflict, IReadOnlyList<T> rows,
        Func<T, object?[]> values, CancellationToken ct)
    {
        if (rows.Count == 0) return;
        int width = values(rows[0]).Length;
        int chunk = Kind == "postgres" ? 100 : 1;
        DbCommand? single = null;
        DbParameter[] ps = [];
        try
        {
            for (int start = 0; start < rows.Count; start += chunk)
            {
                int n = Math.Min(chunk, rows.Count - start);
                DbCommand cmd;
                if (single is null || n != 1)
                {
                    var tuples = Enumerable.Range(0, n).Select(i => "(" + string.Join(", ", Enumerable.Range(0, width).Select(k => $"@p{i}_{k}")) + ")");
                    cmd = Command(c, tx, $"INSERT INTO {table} VALUES {string.Join(", ", tuples)} {onConflict}");
                    ps = AddParameters(cmd, [.. Enumerable.Range(0, n * width).Select(j => $"p{j / width}_{j % width}")]);
                    if (n == 1) single = cmd; // re-executed for every further single row
                }
                else cmd = single;
                for (int i = 0; i < n; i++)
                {
                    var v = values(rows[start + i]);
                    for (int k = 0; k < width; k++)
                    {
                        var p = ps[i * width + k];
                        p.Value = v[k] ?? DBNull.Value;
                        // Untyped NULLs and byte arrays need their type said (PostgreSQL BYTEA), as Bind does.
                        if (v[k] is byte[]) p.DbType = System.Data.DbType.Binary;
                        else if (v[k] is null) p.DbType = System.Data.DbType.String;
                    }
                }
                await cmd.ExecuteNonQueryAsync(ct);
                if (!ReferenceEquals(cmd, single)) await cmd.DisposeAsync();
            }
        }
        finally
        {
            if (single is not null) await single.DisposeAsync();
        }
    }

    public async Task<TufMetadataFile?> GetTufMetadataAsync(string name, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var rows = name == "timestamp.json"
            ? await QueryAsync(c, $"SELECT {TufMetadataColumns} FROM tuf_metadata WHERE role = 'timestamp' ORDER BY version DESC LIMIT 1", ReadTufMetadata, ct)
            : await QueryAsync(c, $"SELECT {TufMetadataColumns} FROM tuf_metadata WHERE name = @n", ReadTufMetadata, ct, ("n", name));
        return rows.Count == 0 ? null : rows[0];
    }

    private static TufMetadataFile ReadTufMetadata(DbDataReader r) =>
        new(r.GetString(0), r.GetString(1), r.GetInt64(2), (byte[])r.GetValue(3), r.GetString(4), Ms(r.GetInt64(5)));

    public async Task<TufTargetFile?> GetTufTargetAsync(string urlPath, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var rows = await QueryAsync(c, "SELECT url_path, target_path, content, sha256, published_at FROM tuf_targets WHERE url_path = @u",
            r => new TufTargetFile(r.GetString(0), r.GetString(1), (byte[])r.GetValue(2), r.GetString(3), Ms(r.GetInt64(4))), ct, ("u", urlPath));
        return rows.Count == 0 ? null : rows[0];
    }

    private const string ReleaseColumns = "model, version, target_path, release_counter, length, sha256, targets_version, published_by, published_at";

    public async Task<IReadOnlyList<ReleaseRecord>> ListReleasesAsync(CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        return await QueryAsync(c, $"SELECT {ReleaseColumns} FROM releases ORDER BY published_at, model, version", ReadRelease, ct);
    }

    public async Task<ReleaseRecord?> GetReleaseAsync(string model, string version, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var rows = await QueryAsync(c, $"SELECT {ReleaseColumns} FROM releases WHERE model = @m AND version = @v", ReadRelease, ct, ("m", model), ("v", version));
        return rows.Count == 0 ? null : rows[0];
    }

    private static ReleaseRecord ReadRelease(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetInt64(4),
        r.GetString(5), r.GetInt64(6), r.GetString(7), Ms(r.GetInt64(8)));

    public async Task<DeviceAssignmentRecord?> GetDeviceAssignmentAsync(string deviceId, CancellationToken ct = default)
    {
        await using var c = await OpenAsync(ct);
        var rows = await QueryAsync(c, "SELECT device_id, assignment, rollout, role_version, updated_at FROM device_assignments WHERE device_id = @d",
            r => new DeviceAssignmentRecord(r.GetString(0), (byte[])r.GetValue(1), Str(r, 2), r.GetInt64(3), Ms(r.GetInt64(4))), ct, ("d", deviceId));
        return rows.Count == 0 ? null : rows[0];
    }
}
