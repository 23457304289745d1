using Microsoft.Data.Sqlite;

namespace EdgeAgent.Chaos.Checks;

/// <summary>Read-only access to the SQLite files the suite inspects (the agent's outbox, the hub's store).</summary>
public static class SqliteFiles
{
    public static SqliteConnection OpenReadOnly(string path)
    {
        var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false, DefaultTimeout = 30 }.ToString());
        c.Open();
        using var busy = c.CreateCommand();
        busy.CommandText = "PRAGMA busy_timeout=10000;";
        busy.ExecuteNonQuery();
        return c;
    }

    /// <summary><c>PRAGMA integrity_check</c>: an empty list when the file is sound.</summary>
    public static IReadOnlyList<string> IntegrityProblems(string path)
    {
        using var c = OpenReadOnly(path);
        using var cmd = c.CreateCommand();
        cmd.CommandText = "PRAGMA integrity_check(20);";
        var problems = new List<string>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
            if (r.GetString(0) != "ok") problems.Add(r.GetString(0));
        return problems;
    }

    public static long Scalar(SqliteConnection c, string sql, params (string Name, object Value)[] parameters)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        foreach (var (n, v) in parameters) cmd.Parameters.AddWithValue(n, v);
        return Convert.ToInt64(cmd.ExecuteScalar() ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
    }
}
