using System.Text;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Outbox.Tests.Support;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Tests.Queue;

public sealed class OutboxAppendTests
{
    [Fact]
    public async Task Appended_events_get_strictly_increasing_seqs_under_one_random_boot_id()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));

        var receipts = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => outbox.AppendAsync(Events.Telemetry(i)).AsTask()));

        Assert.True(TelemetryWire.IsValidBootId(outbox.BootId));
        Assert.All(receipts, r => Assert.Equal(outbox.BootId, r.BootId));
        Assert.All(receipts, r => Assert.True(r.Stored));
        Assert.Equal(Enumerable.Range(1, 300).Select(i => (long)i), receipts.Select(r => r.Seq).Order());
        var rows = Events.ReadRows(dir.File("o.db"));
        Assert.Equal(300, rows.Count);
        Assert.Equal(rows.Select(r => r.Seq).Order(), rows.Select(r => r.Seq)); // stored in seq order
    }

    [Fact]
    public async Task Reopening_starts_a_new_boot_with_seq_1_and_keeps_the_old_events()
    {
        using var dir = new TempDirectory();
        string first;
        await using (var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db"))))
        {
            first = outbox.BootId;
            for (var i = 0; i < 5; i++) await outbox.AppendAsync(Events.Telemetry(i));
        }
        await using (var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db"))))
        {
            Assert.NotEqual(first, outbox.BootId);
            var r = await outbox.AppendAsync(Events.Telemetry(99));
            Assert.Equal(1, r.Seq);
        }
        var rows = Events.ReadRows(dir.File("o.db"));
        Assert.Equal(5, rows.Count(r => r.BootId == first));
        Assert.Single(rows, r => r.BootId != first);
    }

    [Fact]
    public async Task Concurrent_appends_are_committed_in_groups()
    {
        using var dir = new TempDirectory();
        var options = Events.Options(dir.File("o.db")) with { CommitWindow = TimeSpan.FromMilliseconds(50), MaxGroupEvents = 100 };
        await using var outbox = await TelemetryOutbox.OpenAsync(options);
        var commits = 0;
        outbox.Committed += _ => Interlocked.Increment(ref commits);

        for (var i = 0; i < 2000; i++) await outbox.EnqueueAsync(Events.Telemetry(i));
        await outbox.FlushAsync();

        Assert.Equal(2000, outbox.GetStatistics().PendingEvents[TelemetryStream.Telemetry]);
        Assert.InRange(commits, 20, 1000); // ≤ 100 per group; far fewer transactions than events
    }

    [Fact]
    public async Task Committed_ranges_cover_every_appended_seq_once()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        var seen = new List<long>();
        outbox.Committed += r => { lock (seen) for (var s = r.FirstSeq; s <= r.LastSeq; s++) seen.Add(s); };

        for (var i = 0; i < 1000; i++) await outbox.EnqueueAsync(Events.Telemetry(i));
        await outbox.FlushAsync();

        lock (seen) Assert.Equal(Enumerable.Range(1, 1000).Select(i => (long)i), seen);
    }

    public static TheoryData<string, string> BadPayloads => new()
    {
        { "{\"n\":1", "not valid JSON" },
        { "{\"n\":1} {\"n\":2}", "not valid JSON" },
        { "", "empty payload" },
    };

    [Theory]
    [MemberData(nameof(BadPayloads))]
    public async Task A_bad_payload_is_refused_with_an_actionable_message_and_nothing_is_stored(string payload, string expected)
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        await outbox.AppendAsync(Events.Telemetry(1));

        var ex = await Assert.ThrowsAsync<OutboxEventRejectedException>(() =>
            outbox.AppendAsync(Events.Json(TelemetryStream.Telemetry, payload)).AsTask());

        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        var next = await outbox.AppendAsync(Events.Telemetry(2));
        Assert.Equal(2, next.Seq); // the refused event consumed no seq; the outbox carries on
        Assert.Equal(1, outbox.GetStatistics().RejectedAppends);
        Assert.Equal(2, Events.ReadRows(dir.File("o.db")).Count);
    }

    [Fact]
    public async Task An_oversized_payload_is_refused_naming_the_limit()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")) with { MaxPayloadBytes = 1000 });
        var ex = await Assert.ThrowsAsync<OutboxEventRejectedException>(() =>
            outbox.AppendAsync(new OutboxEvent(TelemetryStream.Drift, new byte[1001], PayloadFormat.Binary)).AsTask());
        Assert.Contains("MaxPayloadBytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Binary_payloads_are_stored_as_is()
    {
        using var dir = new TempDirectory();
        await using (var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db"))))
        {
            await outbox.AppendAsync(new OutboxEvent(TelemetryStream.Drift, new byte[] { 5, 0, 15, 255 }, PayloadFormat.Binary, MergeKey: "m/f0"));
        }
        Assert.Equal(new byte[] { 5, 0, 15, 255 }, Assert.Single(Events.ReadRows(dir.File("o.db"))).Payload);
    }

    [Fact]
    public async Task A_missing_directory_is_a_configuration_error_naming_it()
    {
        var ex = await Assert.ThrowsAsync<OutboxConfigurationException>(() =>
            TelemetryOutbox.OpenAsync(new OutboxOptions { DatabasePath = "/nonexistent-edgeagent-dir/o.db" }));
        Assert.Contains("/nonexistent-edgeagent-dir", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_budget_below_the_minimum_is_a_configuration_error()
    {
        using var dir = new TempDirectory();
        var ex = await Assert.ThrowsAsync<OutboxConfigurationException>(() =>
            TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db"), budget: 1000)));
        Assert.Contains("BudgetBytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_default_budget_is_at_most_256_MB_and_at_most_a_tenth_of_free_space()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(new OutboxOptions { DatabasePath = dir.File("o.db") });
        var free = new DriveInfo("/").AvailableFreeSpace;
        Assert.InRange(outbox.BudgetBytes, OutboxOptions.MinimumBudgetBytes, Math.Min(256L << 20, Math.Max(OutboxOptions.MinimumBudgetBytes, free / 10 + (1 << 20))));
    }

    [Fact]
    public async Task Integrity_check_reports_ok_for_a_healthy_database()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        for (var i = 0; i < 100; i++) await outbox.EnqueueAsync(Events.Telemetry(i, 200));
        await outbox.FlushAsync();

        var report = await outbox.CheckIntegrityAsync();

        Assert.True(report.IsOk, string.Join("\n", report.Problems));
    }

    [Fact]
    public async Task Events_queued_before_dispose_are_committed()
    {
        using var dir = new TempDirectory();
        await using (var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")) with { CommitWindow = TimeSpan.FromMilliseconds(500) }))
        {
            for (var i = 0; i < 50; i++) await outbox.EnqueueAsync(Events.Telemetry(i));
        }
        Assert.Equal(50, Events.ReadRows(dir.File("o.db")).Count);
        Assert.False(File.Exists(dir.File("o.db") + "-wal") && new FileInfo(dir.File("o.db") + "-wal").Length > 0);
        _ = Encoding.UTF8;
    }
}
