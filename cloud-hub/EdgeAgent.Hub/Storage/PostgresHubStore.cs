using System.Data.Common;
using Npgsql;
using NpgsqlTypes;

namespace EdgeAgent.Hub.Storage;

/// <summary>
/// PostgreSQL store for scale: several hub instances share it (telemetry identity is the primary key,
/// so two instances receiving the same redelivered batch still store it once). Migrations take a
/// transaction-scoped advisory lock so instances starting together do not race.
/// </summary>
public sealed class PostgresHubStore : SqlHubStore
{
    // Arbitrary constant naming "edgehub schema migrations" for pg_advisory_xact_lock.
    private const long MigrationLockKey = 0x6564_6765_6875_62;
    private readonly NpgsqlDataSource _dataSource;

    public PostgresHubStore(string connectionString)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ConnectionString = connectionString;
        try
        {
            _dataSource = NpgsqlDataSource.Create(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new HubStoreException($"invalid PostgreSQL connection string: {e.Message}", e);
        }
    }

    public override string Kind => "postgres";

    /// <summary>As given (it may hold a password: never log it).</summary>
    internal string ConnectionString { get; }

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken ct)
    {
        try
        {
            return await _dataSource.OpenConnectionAsync(ct);
        }
        catch (NpgsqlException e)
        {
            throw new HubStoreException($"cannot connect to PostgreSQL ({e.Message}); check the host, port, database and credentials in --store", e);
        }
    }

    protected override Task LockForMigrationAsync(DbConnection connection, DbTransaction tx, CancellationToken ct) =>
        ExecAsync(connection, tx, $"SELECT pg_advisory_xact_lock({MigrationLockKey})", ct);

    protected override bool IsUniqueViolation(DbException e) =>
        e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    /// <summary>
    /// One statement per batch: the columns travel as arrays and <c>unnest</c> turns them back into rows,
    /// so a 100-event batch costs one round trip instead of 100 (measured in docs/bench/hub.md).
    /// ON CONFLICT DO NOTHING also skips duplicates inside the same batch.
    /// </summary>
    /// <remarks>With <paramref name="inserted"/> the statement returns the keys it stored (RETURNING), which are mapped
    /// back to the events; one round trip either way.</remarks>
    protected override async Task<int> InsertEventsAsync(DbConnection c, DbTransaction tx, IReadOnlyList<StoredEvent> events, long receivedAt, bool[]? inserted, CancellationToken ct)
    {
        int n = events.Count;
        var device = new string[n]; var boot = new string[n]; var seq = new long[n]; var stream = new string[n]; var kind = new string[n];
        var ts = new long[n]; var prio = new long[n]; var data = new string?[n]; var bin = new byte[]?[n];
        for (int i = 0; i < n; i++)
        {
            var e = events[i];
            (device[i], boot[i], seq[i], stream[i], kind[i]) = (e.DeviceId, e.BootId, e.Seq, e.Stream, e.Kind);
            (ts[i], prio[i], data[i], bin[i]) = (e.Ts.ToUnixTimeMilliseconds(), e.Prio, e.Data, e.Bin);
        }
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO telemetry_events (device_id, boot_id, seq, stream, kind, ts, prio, data, bin, received_at)
            SELECT d, b, s, st, k, ts, p, data, bin, @r
            FROM unnest(@d, @b, @s, @st, @k, @ts, @p, @data, @bin) AS t(d, b, s, st, k, ts, p, data, bin)
            ON CONFLICT (device_id, boot_id, seq) DO NOTHING
            """ + (inserted is null ? "" : " RETURNING device_id, boot_id, seq"), (NpgsqlConnection)c, (NpgsqlTransaction)tx);
        cmd.Parameters.Add(new NpgsqlParameter("d", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = device });
        cmd.Parameters.Add(new NpgsqlParameter("b", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = boot });
        cmd.Parameters.Add(new NpgsqlParameter("s", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = seq });
        cmd.Parameters.Add(new NpgsqlParameter("st", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = stream });
        cmd.Parameters.Add(new NpgsqlParameter("k", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = kind });
        cmd.Parameters.Add(new NpgsqlParameter("ts", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = ts });
        cmd.Parameters.Add(new NpgsqlParameter("p", NpgsqlDbType.Array | NpgsqlDbType.Bigint) { Value = prio });
        cmd.Parameters.Add(new NpgsqlParameter("data", NpgsqlDbType.Array | NpgsqlDbType.Text) { Value = data });
        cmd.Parameters.Add(new NpgsqlParameter("bin", NpgsqlDbType.Array | NpgsqlDbType.Bytea) { Value = bin });
        cmd.Parameters.Add(new NpgsqlParameter("r", NpgsqlDbType.Bigint) { Value = receivedAt });
        if (inserted is null) return await cmd.ExecuteNonQueryAsync(ct);

        // A key can occur twice in one batch (the first occurrence is the one stored, as with row-by-row inserts).
        var index = new Dictionary<(string, string, long), int>(n);
        for (int i = n - 1; i >= 0; i--) index[(device[i], boot[i], seq[i])] = i;
        int count = 0;
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            if (index.TryGetValue((reader.GetString(0), reader.GetString(1), reader.GetInt64(2)), out int i)) inserted[i] = true;
            count++;
        }
        return count;
    }

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
