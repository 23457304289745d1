using System.Data.Common;
using Npgsql;

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

    public override ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}
