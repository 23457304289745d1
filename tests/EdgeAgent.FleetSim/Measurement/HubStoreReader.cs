using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace EdgeAgent.FleetSim.Measurement;

/// <summary>One telemetry row as the hub stored it (received_at = when the hub wrote it, Unix ms).</summary>
public readonly record struct StoredRow(string DeviceId, string BootId, long Seq, long ReceivedAtMs);

/// <summary>
/// Reads the hub's store directly (the same <c>--store</c> text the hub got): the ground truth of what arrived.
/// Read-only; safe to use while the hub writes (SQLite WAL readers do not block the writer).
/// </summary>
public sealed class HubStoreReader(string store, string devicePrefix)
{
    private DbConnection Open()
    {
        if (store.StartsWith("sqlite:", StringComparison.Ordinal))
            return new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = store["sqlite:".Length..], Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        if (store.StartsWith("postgres:", StringComparison.Ordinal))
            return new NpgsqlConnection(store["postgres:".Length..]);
        throw new ArgumentException($"--store '{store}' is neither sqlite:PATH nor postgres:CONNECTION-STRING", nameof(store));
    }

    /// <summary>An open connection and a command with <c>@prefix</c> bound to this fleet's device-id prefix (dispose both).</summary>
    private async Task<(DbConnection Connection, DbCommand Command)> CommandAsync(string sql, CancellationToken ct)
    {
        var c = Open();
        await c.OpenAsync(ct).ConfigureAwait(false);
        var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        var p = cmd.CreateParameter();
        p.ParameterName = "prefix";
        p.Value = devicePrefix + "%";
        cmd.Parameters.Add(p);
        return (c, cmd);
    }

    private async Task<long> ScalarAsync(string sql, CancellationToken ct)
    {
        var (c, cmd) = await CommandAsync(sql, ct).ConfigureAwait(false);
        await using (c)
        await using (cmd)
            return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct).ConfigureAwait(false) ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
    }

    public Task<long> CountEventsAsync(CancellationToken ct) =>
        ScalarAsync("SELECT count(*) FROM telemetry_events WHERE device_id LIKE @prefix", ct);

    public Task<long> CountGapsAsync(CancellationToken ct) =>
        ScalarAsync("SELECT count(*) FROM telemetry_gaps WHERE device_id LIKE @prefix", ct);

    /// <summary>Messages the hub parked in <c>rejected_messages</c> for this fleet's topics ending in <paramref name="leaf"/>.</summary>
    public Task<long> CountRejectedAsync(string leaf, CancellationToken ct) =>
        ScalarAsync($"SELECT count(*) FROM rejected_messages WHERE topic LIKE 'edgeagent/v1/' || @prefix || '/{leaf}'", ct);

    /// <summary>One reason the hub gave for parking a message of this fleet (null when none was parked).</summary>
    public async Task<string?> FirstRejectionReasonAsync(CancellationToken ct)
    {
        var (c, cmd) = await CommandAsync("SELECT topic, reason FROM rejected_messages WHERE topic LIKE 'edgeagent/v1/' || @prefix ORDER BY id LIMIT 1", ct).ConfigureAwait(false);
        await using (c)
        await using (cmd)
        {
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            return await r.ReadAsync(ct).ConfigureAwait(false) ? $"{r.GetString(0)}: {r.GetString(1)}" : null;
        }
    }

    public async Task<List<StoredRow>> ReadEventsAsync(CancellationToken ct)
    {
        var rows = new List<StoredRow>();
        var (c, cmd) = await CommandAsync("SELECT device_id, boot_id, seq, received_at FROM telemetry_events WHERE device_id LIKE @prefix", ct).ConfigureAwait(false);
        await using (c)
        await using (cmd)
        {
            await using var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
            while (await r.ReadAsync(ct).ConfigureAwait(false))
                rows.Add(new StoredRow(r.GetString(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3)));
        }
        return rows;
    }
}
