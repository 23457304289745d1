using Microsoft.Data.Sqlite;

namespace EdgeAgent.Outbox.Storage;

/// <summary>Database layout of the outbox and the connection settings every connection gets.</summary>
internal static class OutboxSchema
{
    public const int Version = 1;

    // events.id orders rows within a boot; (boot, seq) is the identity that travels. epoch splits
    // a boot's seqs into "before" and "after" a reconnect (the drainer sends the newest epoch first).
    // The index (stream, boot, epoch, id) serves the drainer's "oldest rows of this lane" reads.
    // No UNIQUE(boot, seq): seq comes from the single writer's counter, and an extra unique index
    // would cost ingest throughput for nothing (the crash test checks uniqueness).
    private const string Ddl = """
        CREATE TABLE IF NOT EXISTS boots(
            boot INTEGER PRIMARY KEY,
            boot_id TEXT NOT NULL UNIQUE,
            started_ms INTEGER NOT NULL,
            kernel_boot_id TEXT);
        CREATE TABLE IF NOT EXISTS events(
            id INTEGER PRIMARY KEY,
            stream INTEGER NOT NULL,
            boot INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            epoch INTEGER NOT NULL DEFAULT 0,
            kind INTEGER NOT NULL,
            fmt INTEGER NOT NULL,
            prio INTEGER NOT NULL,
            ts_ms INTEGER NOT NULL,
            merge_key TEXT,
            merged_from INTEGER,
            merged_count INTEGER,
            payload BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS events_by_stream ON events(stream, boot, epoch, id);
        """;

    public static SqliteConnection Open(string path, SqliteOpenMode mode)
    {
        var cs = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = mode,
            // Long-lived connections owned by the outbox; a pool would keep file handles open
            // after dispose, which breaks quarantine (rename) and tests that reopen the file.
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();
        var connection = new SqliteConnection(cs);
        connection.Open();
        return connection;
    }

    /// <summary>Writer settings (REFERENCE.md "SQLite as a durable queue").</summary>
    public static void ConfigureWriter(SqliteConnection c, bool fullSync, long walCheckpointPages, long journalSizeLimit)
    {
        Exec(c, "PRAGMA busy_timeout=5000;");
        var mode = Scalar(c, "PRAGMA journal_mode=WAL;") as string;
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
            throw new SqliteException($"could not switch the outbox database to WAL mode (got '{mode}')", 1);
        Exec(c, fullSync ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
        Exec(c, $"PRAGMA wal_autocheckpoint={walCheckpointPages};");
        Exec(c, $"PRAGMA journal_size_limit={journalSizeLimit};");
        Exec(c, "PRAGMA temp_store=MEMORY;");
    }

    public static void ConfigureReader(SqliteConnection c) => Exec(c, "PRAGMA busy_timeout=5000;");

    /// <summary>Creates the tables, or checks an existing schema is one this code understands.</summary>
    public static void Ensure(SqliteConnection c, string path)
    {
        var version = Convert.ToInt64(Scalar(c, "PRAGMA user_version;"), System.Globalization.CultureInfo.InvariantCulture);
        if (version > Version)
            throw new Queue.OutboxStorageException(
                $"outbox database '{path}' has schema version {version}, newer than this agent understands ({Version}); " +
                "it was written by a newer edgeagent. Upgrade the agent or move the file away.");
        using var tx = c.BeginTransaction();
        using (var cmd = c.CreateCommand())
        {
            cmd.Transaction = tx;
            cmd.CommandText = Ddl + $"PRAGMA user_version={Version};";
            cmd.ExecuteNonQuery();
        }
        tx.Commit();
    }

    public static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public static object? Scalar(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    public static long ScalarLong(SqliteConnection c, string sql) =>
        Convert.ToInt64(Scalar(c, sql), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Runs <c>PRAGMA quick_check</c> or <c>integrity_check</c>; returns the problems (empty = ok).</summary>
    public static IReadOnlyList<string> Check(SqliteConnection c, bool full, int maxErrors = 100)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = full ? $"PRAGMA integrity_check({maxErrors});" : $"PRAGMA quick_check({maxErrors});";
        var problems = new List<string>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var line = r.GetString(0);
            if (line != "ok") problems.Add(line);
        }
        return problems;
    }

    /// <summary>
    /// Checks the 16-byte magic string of the database header ("SQLite format 3\0", SQLite file
    /// format §1.3) without SQLite. Returns a problem description, or null when it looks right or
    /// the file is empty (SQLite treats an empty file as a new database).
    /// </summary>
    public static string? HeaderProblem(string path)
    {
        Span<byte> header = stackalloc byte[16];
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var read = fs.ReadAtLeast(header, 16, throwOnEndOfStream: false);
        if (read == 0) return null;
        if (read < 16 || !header.SequenceEqual("SQLite format 3\0"u8))
            return "file header is not an SQLite 3 database header (SQLITE_NOTADB, error 26)";
        return null;
    }

    /// <summary>SQLITE_CORRUPT (11) or SQLITE_NOTADB (26): the file is damaged, not merely unreachable.</summary>
    public static bool IsCorruption(SqliteException ex) => (ex.SqliteErrorCode & 0xFF) is 11 or 26;

    /// <summary>SQLITE_FULL (13): the file system is full or <c>max_page_count</c> was reached.</summary>
    public static bool IsFull(SqliteException ex) => (ex.SqliteErrorCode & 0xFF) == 13;
}
