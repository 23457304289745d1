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
    /// Inserts rows 100 at a time with one multi-row VALUES statement each (portable: SQLite and PostgreSQL):
    /// a 1,000-device assignment batch costs 10 round trips per table instead of 1,000 (docs/bench/hub-releases.md).
    /// </summary>
    private static async Task InsertRowsAsync<T>(DbConnection c, DbTransaction tx, string table, string onConflict, IReadOnlyList<T> rows,
        Func<T, object?[]> values, CancellationToken ct)
    {
        const int chunk = 100;
        for (int start = 0; start < rows.Count; start += chunk)
        {
            int n = Math.Min(chunk, rows.Count - start);
            var args = new List<(string, object?)>(n * 6);
            var tuples = new List<string>(n);
            for (int i = 0; i < n; i++)
            {
                var v = values(rows[start + i]);
                tuples.Add("(" + string.Join(", ", v.Select((_, k) => $"@p{i}_{k}")) + ")");
                for (int k = 0; k < v.Length; k++) args.Add(($"p{i}_{k}", v[k]));
            }
            await ExecAsync(c, tx, $"INSERT INTO {table} VALUES {string.Join(", ", tuples)} {onConflict}", ct, [.. args]);
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
