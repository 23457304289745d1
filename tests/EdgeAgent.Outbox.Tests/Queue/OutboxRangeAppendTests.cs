using EdgeAgent.Outbox.Queue;
using EdgeAgent.Outbox.Tests.Support;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Tests.Queue;

/// <summary>The batch append API (<see cref="TelemetryOutbox.AppendRangeAsync"/>, <see cref="TelemetryOutbox.EnqueueRangeAsync"/>).</summary>
public sealed class OutboxRangeAppendTests
{
    private static OutboxEvent[] Range(int from, int count) =>
        [.. Enumerable.Range(from, count).Select(i => Events.Telemetry(i))];

    [Fact]
    public async Task A_range_gets_one_receipt_per_event_in_order_with_consecutive_seqs()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        await outbox.AppendAsync(Events.Telemetry(-1));

        var receipts = await outbox.AppendRangeAsync(Range(0, 250));

        Assert.Equal(250, receipts.Length);
        Assert.All(receipts, r => Assert.Equal(outbox.BootId, r.BootId));
        Assert.All(receipts, r => Assert.True(r.Stored));
        Assert.Equal(Enumerable.Range(2, 250).Select(i => (long)i), receipts.Select(r => r.Seq));
        var rows = Events.ReadRows(dir.File("o.db"));
        Assert.Equal(251, rows.Count);
        Assert.Equal(Enumerable.Range(0, 250).Select(i => $$"""{"n":{{i}},"pad":""}"""), rows.Skip(1).Select(r => r.Text()));
    }

    [Fact]
    public async Task A_range_larger_than_a_group_is_split_across_commits_without_reordering()
    {
        using var dir = new TempDirectory();
        var options = Events.Options(dir.File("o.db")) with { MaxGroupEvents = 100, QueueCapacity = 64 };
        await using var outbox = await TelemetryOutbox.OpenAsync(options);
        var ranges = new List<CommittedRange>();
        outbox.Committed += r => { lock (ranges) ranges.Add(r); };

        // Interleave ranges and single events from one producer: queue order is storage order.
        for (var k = 0; k < 5; k++)
        {
            await outbox.EnqueueRangeAsync(Range(k * 1000, 999));
            await outbox.EnqueueAsync(Events.Telemetry(k * 1000 + 999));
        }
        await outbox.FlushAsync();

        var rows = Events.ReadRows(dir.File("o.db"));
        Assert.Equal(Enumerable.Range(0, 5000).Select(i => $$"""{"n":{{i}},"pad":""}"""), rows.Select(r => r.Text()));
        Assert.Equal(Enumerable.Range(1, 5000).Select(i => (long)i), rows.Select(r => r.Seq));
        lock (ranges)
        {
            Assert.All(ranges, r => Assert.InRange(r.LastSeq - r.FirstSeq + 1, 1, 100)); // groups stay within MaxGroupEvents
            Assert.Equal(Enumerable.Range(1, 5000).Select(i => (long)i), ranges.SelectMany(r => Enumerable.Range((int)r.FirstSeq, (int)(r.LastSeq - r.FirstSeq + 1))).Select(i => (long)i));
        }
    }

    [Fact]
    public async Task Concurrent_ranges_and_single_appends_keep_each_producers_order()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")) with { QueueCapacity = 300 });

        var producers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            var seqs = new List<long>();
            for (var k = 0; k < 10; k++)
            {
                var batch = Enumerable.Range(0, 50).Select(i => Events.Json(TelemetryStream.Telemetry, $$"""{"p":{{p}},"i":{{k * 51 + i}}}""")).ToArray();
                var receipts = await outbox.AppendRangeAsync(batch);
                Assert.Equal(49, receipts[^1].Seq - receipts[0].Seq); // nothing from other producers in between
                seqs.AddRange(receipts.Select(r => r.Seq));
                seqs.Add((await outbox.AppendAsync(Events.Json(TelemetryStream.Telemetry, $$"""{"p":{{p}},"i":{{k * 51 + 50}}}"""))).Seq);
            }
            return seqs;
        })).ToArray();
        var all = await Task.WhenAll(producers);

        foreach (var seqs in all) Assert.Equal(seqs.Order(), seqs); // each producer's events in its order
        Assert.Equal(Enumerable.Range(1, 4 * 510).Select(i => (long)i), all.SelectMany(s => s).Order());
        var rows = Events.ReadRows(dir.File("o.db"));
        for (var p = 0; p < 4; p++)
        {
            var mine = rows.Where(r => r.Text().StartsWith($$"""{"p":{{p}},""", StringComparison.Ordinal)).Select(r => r.Text()).ToList();
            Assert.Equal(Enumerable.Range(0, 510).Select(i => $$"""{"p":{{p}},"i":{{i}}}"""), mine);
        }
    }

    [Fact]
    public async Task One_bad_payload_rejects_the_whole_range_naming_its_index_and_stores_nothing()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        var batch = Range(0, 10);
        batch[7] = Events.Json(TelemetryStream.Telemetry, "{\"n\":");

        var ex = await Assert.ThrowsAsync<OutboxEventRejectedException>(() => outbox.AppendRangeAsync(batch));
        var ex2 = await Assert.ThrowsAsync<OutboxEventRejectedException>(() => outbox.EnqueueRangeAsync(batch).AsTask());

        Assert.Contains("not valid JSON", ex.Message, StringComparison.Ordinal);
        Assert.Contains("event 7 of a range of 10", ex.Message, StringComparison.Ordinal);
        Assert.Contains("nothing of the range was queued", ex2.Message, StringComparison.Ordinal);
        var next = await outbox.AppendAsync(Events.Telemetry(1));
        Assert.Equal(1, next.Seq); // the refused ranges consumed no seq
        Assert.Single(Events.ReadRows(dir.File("o.db")));
    }

    [Fact]
    public async Task An_empty_range_stores_nothing_and_returns_no_receipts()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));

        Assert.Empty(await outbox.AppendRangeAsync(Array.Empty<OutboxEvent>()));
        await outbox.EnqueueRangeAsync(Array.Empty<OutboxEvent>());
        await outbox.FlushAsync();

        Assert.Empty(Events.ReadRows(dir.File("o.db")));
    }

    [Fact]
    public async Task A_range_waits_while_queued_ranges_hold_the_queue_capacity_and_cancelling_it_queues_nothing()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")) with { QueueCapacity = 10 });
        // Stall the writer inside a Committed handler (it runs on the writer task) so queued ranges stay queued.
        using var gate = new ManualResetEventSlim(false);
        var stalled = 0;
        outbox.Committed += _ => { if (Interlocked.Exchange(ref stalled, 1) == 0) gate.Wait(TimeSpan.FromSeconds(30)); };
        await outbox.EnqueueAsync(Events.Telemetry(-1));
        await Wait.UntilAsync(() => Volatile.Read(ref stalled) == 1, "writer stalled in the handler");

        await outbox.EnqueueRangeAsync(Range(0, 8));            // fits: 8 ≤ 10
        using var cts = new CancellationTokenSource();
        var second = outbox.EnqueueRangeAsync(Range(100, 8), cts.Token).AsTask(); // 8 + 8 > 10: waits
        await Task.Delay(100);
        Assert.False(second.IsCompleted);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => second);

        var third = outbox.EnqueueRangeAsync(Range(200, 2)).AsTask(); // 8 + 2 ≤ 10: no wait
        await third;
        gate.Set();
        await outbox.FlushAsync();

        var expected = new[] { -1 }.Concat(Enumerable.Range(0, 8)).Concat(Enumerable.Range(200, 2));
        Assert.Equal(expected.Select(i => $$"""{"n":{{i}},"pad":""}"""), Events.ReadRows(dir.File("o.db")).Select(r => r.Text()));
    }

    [Fact]
    public async Task Drift_in_a_range_that_does_not_fit_fails_the_range_while_telemetry_is_tombstoned()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db"), OutboxOptions.MinimumBudgetBytes));
        OutboxFullException? full = null;
        var stored = 0;
        for (var k = 0; k < 200 && full is null; k++)
        {
            var batch = Enumerable.Range(0, 10).Select(_ => new OutboxEvent(TelemetryStream.Drift, new byte[4000], PayloadFormat.Binary)).ToArray();
            try
            {
                stored += (await outbox.AppendRangeAsync(batch)).Length;
            }
            catch (OutboxFullException ex)
            {
                full = ex;
            }
        }

        Assert.NotNull(full);
        Assert.Contains("never dropped", full.Message, StringComparison.Ordinal);
        Assert.True(outbox.DiskBytes <= OutboxOptions.MinimumBudgetBytes);
        Assert.True(stored > 0);

        // Telemetry in a range that cannot be stored gets receipts with Stored = false, not an exception.
        var receipts = await outbox.AppendRangeAsync(Enumerable.Range(0, 3).Select(i => Events.Telemetry(i, 3000)).ToArray());
        Assert.All(receipts, r => Assert.False(r.Stored));
        Assert.Equal(receipts.Select(r => r.Seq).Order(), receipts.Select(r => r.Seq));
        Assert.True((await outbox.CheckIntegrityAsync()).IsOk);
    }

    [Fact]
    public async Task Every_column_is_stored_as_given_for_single_and_range_appends_across_epochs()
    {
        using var dir = new TempDirectory();
        var path = dir.File("o.db");
        var ts = new DateTimeOffset(2026, 11, 22, 7, 0, 0, TimeSpan.Zero);
        await using (var outbox = await TelemetryOutbox.OpenAsync(Events.Options(path)))
        {
            await outbox.AppendAsync(new OutboxEvent(TelemetryStream.Drift, new byte[] { 1, 2 }, PayloadFormat.Binary, 255, ts, "model/f0"));
            await outbox.StartNewEpochAsync(CancellationToken.None);
            await outbox.StartNewEpochAsync(CancellationToken.None);
            await outbox.AppendRangeAsync(new[]
            {
                new OutboxEvent(TelemetryStream.Update, "{\"u\":1}"u8.ToArray(), PayloadFormat.Json, 7, ts.AddMilliseconds(1)),
                new OutboxEvent(TelemetryStream.FallbackCase, "[1]"u8.ToArray(), PayloadFormat.Json, 0, ts.AddMilliseconds(2), "k"),
            });
        }

        using var c = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT stream, seq, epoch, kind, fmt, prio, ts_ms, merge_key, merged_from, merged_count, payload FROM events ORDER BY id;";
        using var r = cmd.ExecuteReader();
        var rows = new List<string>();
        while (r.Read())
            rows.Add(string.Join(",", Enumerable.Range(0, 10).Select(i => r.IsDBNull(i) ? "null" : Convert.ToString(r.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))) + ":" + Convert.ToHexString((byte[])r.GetValue(10)));
        var ms = ts.ToUnixTimeMilliseconds();
        Assert.Equal(new[]
        {
            $"{(int)TelemetryStream.Drift},1,0,{(int)TelemetryEventKind.Data},1,255,{ms},model/f0,null,null:0102",
            $"{(int)TelemetryStream.Update},2,2,{(int)TelemetryEventKind.Data},0,7,{ms + 1},null,null,null:" + Convert.ToHexString("{\"u\":1}"u8),
            $"{(int)TelemetryStream.FallbackCase},3,2,{(int)TelemetryEventKind.Data},0,0,{ms + 2},k,null,null:" + Convert.ToHexString("[1]"u8),
        }, rows);
    }
}
