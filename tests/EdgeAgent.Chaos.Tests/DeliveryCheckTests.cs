using EdgeAgent.Chaos.Checks;
using Microsoft.Data.Sqlite;
using Xunit;

namespace EdgeAgent.Chaos.Tests;

/// <summary>
/// The accounting the telemetry scenarios rely on, on hand-made outbox and hub files with the real
/// schemas' columns: it must find holes, lost tails, unknown boots and parked messages, and must
/// accept seqs that are pending or inside a tombstone.
/// </summary>
public sealed class DeliveryCheckTests : IDisposable
{
    private const string Boot = "b0000000000000000000000000000001";
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeagent-chaos-check-").FullName;
    private string Outbox => Path.Combine(_dir, "outbox.db");
    private string Hub => Path.Combine(_dir, "hub.db");

    public DeliveryCheckTests()
    {
        Exec(Outbox, """
            CREATE TABLE boots(boot INTEGER PRIMARY KEY, boot_id TEXT NOT NULL UNIQUE, started_ms INTEGER NOT NULL, kernel_boot_id TEXT);
            CREATE TABLE events(id INTEGER PRIMARY KEY, stream INTEGER NOT NULL, boot INTEGER NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL DEFAULT 0,
              kind INTEGER NOT NULL, fmt INTEGER NOT NULL, prio INTEGER NOT NULL, ts_ms INTEGER NOT NULL, merge_key TEXT, merged_from INTEGER, merged_count INTEGER, payload BLOB NOT NULL);
            INSERT INTO boots VALUES (1, 'b0000000000000000000000000000001', 0, NULL);
            """);
        Exec(Hub, """
            CREATE TABLE telemetry_events(device_id TEXT NOT NULL, boot_id TEXT NOT NULL, seq BIGINT NOT NULL, stream TEXT NOT NULL, kind TEXT NOT NULL,
              ts BIGINT NOT NULL, prio BIGINT NOT NULL, data TEXT, bin BLOB, received_at BIGINT NOT NULL, PRIMARY KEY (device_id, boot_id, seq));
            CREATE TABLE telemetry_gaps(device_id TEXT NOT NULL, boot_id TEXT NOT NULL, stream TEXT NOT NULL, from_seq BIGINT NOT NULL, to_seq BIGINT NOT NULL,
              count BIGINT NOT NULL, reason TEXT NOT NULL, recorded_at BIGINT NOT NULL);
            CREATE TABLE rejected_messages(id INTEGER PRIMARY KEY, at BIGINT NOT NULL, topic TEXT NOT NULL, reason TEXT NOT NULL, payload BLOB NOT NULL);
            """);
    }

    private static void Exec(string path, string sql)
    {
        using var c = new SqliteConnection($"Data Source={path};Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private void AtHub(string boot, params long[] seqs)
    {
        foreach (var s in seqs)
            Exec(Hub, $"INSERT INTO telemetry_events VALUES ('dev', '{boot}', {s}, 'telemetry', 'data', 0, 0, '{{}}', NULL, 0)");
    }

    private void Pending(params long[] seqs)
    {
        foreach (var s in seqs) Exec(Outbox, $"INSERT INTO events(stream, boot, seq, kind, fmt, prio, ts_ms, payload) VALUES (0, 1, {s}, 0, 0, 0, 0, x'7b7d')");
    }

    private DeliveryReport Check(long witnessed = 0) =>
        DeliveryCheck.Run(Hub, Outbox, "dev", new Dictionary<string, long> { [Boot] = witnessed });

    [Fact]
    public void Seqs_at_the_hub_or_still_pending_balance()
    {
        AtHub(Boot, 1, 2, 3);
        Pending(4, 5);
        var report = Check(witnessed: 5);
        Assert.Empty(report.Problems());
        Assert.Equal((0L, 5L, 3L, 2L), (report.Missing, report.Committed, report.AtHub, report.Pending));
    }

    [Fact]
    public void A_hole_between_delivered_and_pending_seqs_is_reported_with_its_range()
    {
        AtHub(Boot, 1, 2, 3, 6);
        Pending(7, 8);
        var report = Check(witnessed: 8);
        Assert.Equal(2, report.Missing);
        Assert.Contains(report.Problems(), p => p.Contains("seqs 4-5", StringComparison.Ordinal));
    }

    [Fact]
    public void Seqs_inside_a_tombstone_count_as_dropped_not_missing_whether_the_tombstone_arrived_or_is_pending()
    {
        AtHub(Boot, 1, 2, 10);
        Exec(Hub, $"INSERT INTO telemetry_gaps VALUES ('dev', '{Boot}', 'telemetry', 3, 5, 3, 'budget', 0)");
        Exec(Outbox, $$"""INSERT INTO events(stream, boot, seq, kind, fmt, prio, ts_ms, payload) VALUES (0, 1, 11, 1, 0, 255, 0, CAST('{"stream":"telemetry","bootId":"{{Boot}}","fromSeq":6,"toSeq":9,"count":4,"reason":"disk full"}' AS BLOB))""");
        var report = Check(witnessed: 11);
        Assert.Empty(report.Problems());
        Assert.Equal(7, report.Tombstoned);
    }

    [Fact]
    public void A_tail_the_agent_reported_committed_but_that_exists_nowhere_is_a_lost_tail()
    {
        AtHub(Boot, 1, 2, 3);
        Assert.Contains(Check(witnessed: 5).Problems(), p => p.Contains("tail lost", StringComparison.Ordinal));
    }

    [Fact]
    public void Rows_of_unknown_boots_and_parked_messages_are_problems_but_parked_json_drift_is_only_counted()
    {
        AtHub(Boot, 1);
        AtHub("ffffffffffffffffffffffffffffffff", 1);
        Exec(Hub, "INSERT INTO rejected_messages(at, topic, reason, payload) VALUES (0, 't', '3 drift window(s) stored as events but not merged: x', x'00')");
        var report = Check(witnessed: 1);
        Assert.Equal(1, report.DriftNotMerged);
        Assert.Single(report.Problems(), p => p.Contains("boots neither", StringComparison.Ordinal));
        Exec(Hub, "INSERT INTO rejected_messages(at, topic, reason, payload) VALUES (0, 't', 'bad JSON', x'00')");
        Assert.Contains(Check(witnessed: 1).Problems(), p => p.Contains("parked 1 message", StringComparison.Ordinal));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
