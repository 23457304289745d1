using System.Text;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Telemetry.Wire;
using Microsoft.Data.Sqlite;

namespace EdgeAgent.Outbox.Tests.Support;

internal static class Events
{
    public static OutboxEvent Json(TelemetryStream stream, string json, string? mergeKey = null) =>
        new(stream, Encoding.UTF8.GetBytes(json), MergeKey: mergeKey);

    public static OutboxEvent Telemetry(int n, int pad = 0) =>
        Json(TelemetryStream.Telemetry, $$"""{"n":{{n}},"pad":"{{new string('t', pad)}}"}""");

    public static OutboxOptions Options(string path, long? budget = null) => new()
    {
        DatabasePath = path,
        BudgetBytes = budget ?? 64L * 1024 * 1024,
        CommitWindow = TimeSpan.FromMilliseconds(2),
    };

    /// <summary>Rows as stored, read with a separate plain SQLite connection.</summary>
    public static List<StoredRow> ReadRows(string path)
    {
        using var c = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false, Mode = SqliteOpenMode.ReadOnly }.ToString());
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT b.boot_id, e.seq, e.stream, e.kind, e.payload FROM events e JOIN boots b ON b.boot = e.boot ORDER BY e.id;";
        using var r = cmd.ExecuteReader();
        var rows = new List<StoredRow>();
        while (r.Read())
            rows.Add(new StoredRow(r.GetString(0), r.GetInt64(1), (TelemetryStream)r.GetInt64(2), (TelemetryEventKind)r.GetInt64(3), (byte[])r.GetValue(4)));
        return rows;
    }

    public static string Text(this StoredRow row) => Encoding.UTF8.GetString(row.Payload);
}

internal sealed record StoredRow(string BootId, long Seq, TelemetryStream Stream, TelemetryEventKind Kind, byte[] Payload);
