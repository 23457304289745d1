using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace EdgeAgent.Hub.Storage;

/// <summary>
/// SQLite store: one file, zero set-up, WAL so readers never block the writer. Writers serialise on
/// SQLite's lock (transactions start IMMEDIATE, with a busy timeout), which is plenty for one hub.
/// </summary>
public sealed class SqliteHubStore : SqlHubStore
{
    private readonly string _connectionString;

    public SqliteHubStore(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full);
        if (dir is not null && !Directory.Exists(dir))
            throw new HubStoreException($"SQLite database directory '{dir}' does not exist; create it or pass another --store path");
        DatabasePath = full;
        _connectionString = new SqliteConnectionStringBuilder { DataSource = full, Pooling = true, DefaultTimeout = 30 }.ToString();
    }

    /// <summary>Full path of the database file.</summary>
    public string DatabasePath { get; }

    public override string Kind => "sqlite";

    protected override async ValueTask<DbConnection> OpenAsync(CancellationToken ct)
    {
        var c = new SqliteConnection(_connectionString);
        try
        {
            await c.OpenAsync(ct);
            // WAL is persistent in the file; busy_timeout and synchronous are per connection.
            // NORMAL in WAL mode survives application crashes (REFERENCE.md, "SQLite as a durable queue").
            await ExecAsync(c, null, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000", ct);
            return c;
        }
        catch (SqliteException e)
        {
            await c.DisposeAsync();
            throw new HubStoreException($"cannot open SQLite database '{DatabasePath}': {e.Message}", e);
        }
    }

    protected override Task LockForMigrationAsync(DbConnection connection, DbTransaction tx, CancellationToken ct) =>
        Task.CompletedTask; // Microsoft.Data.Sqlite transactions are BEGIN IMMEDIATE: the write lock is already held.

    protected override bool IsUniqueViolation(DbException e) =>
        e is SqliteException { SqliteErrorCode: 19 }; // SQLITE_CONSTRAINT

    public override ValueTask DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        return ValueTask.CompletedTask;
    }
}
