using System.Text;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Outbox.Tests.Support;
using EdgeAgent.Telemetry.Acks;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Tests.Drain;

/// <summary>End-to-end acknowledgement (README "End-to-end acknowledgement"): rows leave the device only when the hub says it stored them.</summary>
public sealed class HubAckTests
{
    private static DrainerOptions Options() => new()
    {
        DeviceId = "dev-1",
        MaxBatchEvents = 10,
        AwaitHubAck = true,
        InitialRetryDelay = TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(100),
        IdlePoll = TimeSpan.FromMilliseconds(50),
    };

    private static long Pending(TelemetryOutbox outbox) => outbox.GetStatistics().PendingEvents.Values.Sum();

    private static long Awaiting(TelemetryOutbox outbox) => outbox.GetStatistics().AwaitingAckEvents.Values.Sum();

    private static TelemetryAck AckOf(TelemetryBatch b) => TelemetryAckCodec.ForBatch(b);

    [Fact]
    public async Task Rows_the_broker_acknowledged_stay_stored_until_the_hub_acknowledges_them()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        for (var i = 0; i < 30; i++) await outbox.AppendAsync(Events.Telemetry(i));
        var transport = new FaultInjectingTransport(); // PUBACKs everything; no hub acks yet
        var drainer = new OutboxDrainer(outbox, transport, Options());
        using var cts = new CancellationTokenSource();
        var run = drainer.RunAsync(cts.Token);

        await Wait.UntilAsync(() => Awaiting(outbox) == 30, "all sent, awaiting the hub");
        Assert.Equal(30, transport.DeliveredEvents);                     // sent once, not again while awaiting
        Assert.Equal(30, Events.ReadRows(dir.File("o.db")).Count);        // the broker's PUBACK deleted nothing
        var stats = outbox.GetStatistics();
        Assert.Equal(30, stats.PendingEvents[TelemetryStream.Telemetry]);
        Assert.Equal(3, stats.AwaitingAckBatches);

        var batches = transport.Delivered.Select(d => d.Batch).ToList();
        var result = await outbox.AcknowledgeAsync(AckOf(batches[1]));   // the hub stored the middle batch
        Assert.Equal(new OutboxAckResult(10, Applied: true), result);
        var left = Events.ReadRows(dir.File("o.db")).Select(r => r.Seq).ToList();
        Assert.Equal(batches[0].Events.Concat(batches[2].Events).Select(e => e.Seq), left); // exactly the acknowledged rows went

        foreach (var b in new[] { batches[0], batches[2] }) await outbox.AcknowledgeAsync(AckOf(b));
        Assert.Empty(Events.ReadRows(dir.File("o.db")));
        stats = outbox.GetStatistics();
        Assert.Equal((0L, 3L, 30L), (stats.AwaitingAckBatches, stats.HubAcks, stats.HubAckedEvents));
        await cts.CancelAsync();
        await run;
        Assert.Equal(30, transport.DeliveredEvents);
    }

    [Fact]
    public async Task Events_appended_one_by_one_while_the_hub_acks_each_are_all_sent()
    {
        // Found against Mosquitto: SQLite reuses the rowid of a deleted newest row, which put new rows
        // below the "sent up to" floor of their lane, and they were never read. Ids are now base + seq.
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        var transport = new FaultInjectingTransport();
        transport.AckTo = outbox;
        var drainer = new OutboxDrainer(outbox, transport, Options());
        using var cts = new CancellationTokenSource();
        var run = drainer.RunAsync(cts.Token);

        for (var i = 0; i < 20; i++)
        {
            await outbox.AppendAsync(Events.Telemetry(i));
            await Wait.UntilAsync(() => Pending(outbox) == 0, $"event {i} sent and acked");
        }
        await cts.CancelAsync();
        await run;
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), transport.Applied.Select(a => a.Event.Seq));
    }

    [Fact]
    public async Task A_repeated_ack_deletes_nothing_more()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        for (var i = 0; i < 5; i++) await outbox.AppendAsync(Events.Telemetry(i));
        var ack = new TelemetryAck { Schema = TelemetryAckCodec.Schema, BootId = outbox.BootId, Stream = "telemetry", Ranges = [[1, 3]] };

        Assert.Equal(3, (await outbox.AcknowledgeAsync(ack)).DeletedEvents);
        Assert.Equal(0, (await outbox.AcknowledgeAsync(ack)).DeletedEvents);
        Assert.Equal([4L, 5L], Events.ReadRows(dir.File("o.db")).Select(r => r.Seq));
    }

    [Fact]
    public async Task An_ack_names_one_stream_and_leaves_the_other_streams_events_in_its_seq_range_alone()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        await outbox.AppendAsync(Events.Telemetry(1));                                        // seq 1
        await outbox.AppendAsync(Events.Json(TelemetryStream.Update, """{"state":"x"}"""));  // seq 2
        await outbox.AppendAsync(Events.Telemetry(3));                                        // seq 3
        var ack = new TelemetryAck { Schema = TelemetryAckCodec.Schema, BootId = outbox.BootId, Stream = "telemetry", Ranges = [[1, 3]] };

        Assert.Equal(2, (await outbox.AcknowledgeAsync(ack)).DeletedEvents);
        Assert.Equal([(2L, TelemetryStream.Update)], Events.ReadRows(dir.File("o.db")).Select(r => (r.Seq, r.Stream)));
    }

    [Fact]
    public async Task A_batch_without_hub_ack_is_sent_again_after_the_ack_timeout_and_applied_once()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        for (var i = 0; i < 30; i++) await outbox.AppendAsync(Events.Telemetry(i));
        var time = new ManualTimeProvider();
        // The hub loses its ack for the first delivery (e.g. it crashed after storing, or the broker lost the ack).
        var transport = new FaultInjectingTransport { LoseAck = (n, _) => n == 1 };
        transport.AckTo = outbox;
        var drainer = new OutboxDrainer(outbox, transport, Options() with { AckTimeout = TimeSpan.FromSeconds(60) }, time);
        using var cts = new CancellationTokenSource();
        var run = drainer.RunAsync(cts.Token);

        await Wait.UntilAsync(() => Pending(outbox) == 10 && transport.DeliveredEvents == 30, "two batches acked, the first awaits");
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), Events.ReadRows(dir.File("o.db")).Select(r => r.Seq));
        await Task.Delay(200);
        Assert.Equal(30, transport.DeliveredEvents); // nothing re-sent before the timeout (the clock has not moved)

        await Wait.UntilAsync(() =>
        {
            time.Advance(TimeSpan.FromSeconds(20));
            return Pending(outbox) == 0;
        }, "re-sent after the ack timeout and acked");
        await cts.CancelAsync();
        await run;

        var resent = transport.Delivered.Skip(3).Select(d => d.Batch).ToList();
        Assert.Equal(1, resent.First().FirstSeq);
        Assert.Equal(Enumerable.Range(1, 30).Select(i => (long)i), transport.Applied.Select(a => a.Event.Seq).Order()); // once each at the hub
        Assert.True(outbox.GetStatistics().RequeuedEvents >= 10);
    }

    [Fact]
    public async Task Right_after_a_reconnect_a_batch_the_hub_never_saw_is_sent_again_after_the_short_reconnect_timeout()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        for (var i = 0; i < 10; i++) await outbox.AppendAsync(Events.Telemetry(i));
        // The link is down for the first attempt. The broker it comes back to has no hub subscription yet (it PUBACKs and
        // drops): the delivery after the outage and the drainer's immediate re-send on the link coming back both get no
        // hub ack.
        var transport = new FaultInjectingTransport
        {
            Plan = (attempt, _) => attempt == 1 ? Fault.FailBeforeDelivery : Fault.None,
            LoseAck = (n, _) => n <= 2,
            AckTo = outbox,
        };
        // Real time (the outbox's group commit runs on it too). The full ack timeout is an hour, so only the reconnect
        // timeout (1 s) can bring the rows back within the wait below.
        var drainer = new OutboxDrainer(outbox, transport,
            Options() with { AckTimeout = TimeSpan.FromHours(1), ReconnectAckTimeout = TimeSpan.FromSeconds(1) });
        using var cts = new CancellationTokenSource();
        var run = drainer.RunAsync(cts.Token);

        await Wait.UntilAsync(() => Pending(outbox) == 0, "re-sent after the reconnect timeout and acked by the hub");
        await cts.CancelAsync();
        await run;

        Assert.Equal(1, outbox.LinkRequeues); // the drainer noticed the link coming back once
        Assert.Equal(30, transport.DeliveredEvents); // after the outage, the immediate re-send, the reconnect-timeout re-send
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), transport.Applied.Select(a => a.Event.Seq).Order()); // once each at the hub
    }

    [Fact]
    public async Task Requeue_after_a_reconnect_sends_everything_awaiting_the_hub_again_at_once()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        for (var i = 0; i < 20; i++) await outbox.AppendAsync(Events.Telemetry(i));
        var transport = new FaultInjectingTransport(); // the broker "loses" everything: no hub acks
        var drainer = new OutboxDrainer(outbox, transport, Options());
        using var cts = new CancellationTokenSource();
        var run = drainer.RunAsync(cts.Token);
        await Wait.UntilAsync(() => Awaiting(outbox) == 20, "sent, awaiting the hub");

        transport.AckTo = outbox; // the hub is back
        Assert.Equal(20, outbox.RequeueAwaitingAck());
        await Wait.UntilAsync(() => Pending(outbox) == 0, "re-sent and acked");
        await cts.CancelAsync();
        await run;

        Assert.Equal(40, transport.DeliveredEvents);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), transport.Applied.Select(a => a.Event.Seq).Order());
    }

    [Fact]
    public async Task The_send_window_limits_batches_awaiting_the_hub_per_stream()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        for (var i = 0; i < 100; i++) await outbox.AppendAsync(Events.Telemetry(i));
        var transport = new FaultInjectingTransport();
        var drainer = new OutboxDrainer(outbox, transport, Options() with { MaxAwaitingBatches = 2 });
        using var cts = new CancellationTokenSource();
        var run = drainer.RunAsync(cts.Token);

        await Wait.UntilAsync(() => transport.Delivered.Count == 2, "window filled");
        await Task.Delay(200);
        Assert.Equal(2, transport.Delivered.Count);

        await outbox.AcknowledgeAsync(AckOf(transport.Delivered.First().Batch)); // one slot opens
        await Wait.UntilAsync(() => transport.Delivered.Count == 3, "next batch sent");
        await Task.Delay(200);
        Assert.Equal(3, transport.Delivered.Count);
        Assert.Equal(21, transport.Delivered.Last().Batch.FirstSeq);
        await cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task An_ack_arriving_after_a_restart_deletes_the_previous_boots_rows()
    {
        using var dir = new TempDirectory();
        List<TelemetryBatch> sent;
        await using (var before = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db"))))
        {
            for (var i = 0; i < 25; i++) await before.AppendAsync(Events.Telemetry(i));
            var transport = new FaultInjectingTransport();
            var drainer = new OutboxDrainer(before, transport, Options());
            using var cts = new CancellationTokenSource();
            var run = drainer.RunAsync(cts.Token);
            await Wait.UntilAsync(() => Awaiting(before) == 25, "sent, awaiting the hub");
            await cts.CancelAsync();
            await run;
            sent = [.. transport.Delivered.Select(d => d.Batch)];
        }
        // The agent restarted (new boot id); the hub's acks for the old boot arrive now.
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        Assert.Equal(25, Pending(outbox));
        foreach (var b in sent) await outbox.AcknowledgeAsync(AckOf(b));
        Assert.Empty(Events.ReadRows(dir.File("o.db")));
        Assert.Equal(25, outbox.GetStatistics().HubAckedEvents);
    }

    public static TheoryData<string, string> MalformedAcks => new()
    {
        { "", "empty" },
        { "not json", "not-json" },
        { "null", "not-json" },
        { """{"schema":"edgeagent.ack/2","bootId":"00000000000000000000000000000001","stream":"telemetry","ranges":[[1,2]]}""", "unknown-schema" },
        { """{"schema":"edgeagent.ack/1","bootId":"XYZ","stream":"telemetry","ranges":[[1,2]]}""", "bad-boot-id" },
        { """{"schema":"edgeagent.ack/1","bootId":"00000000000000000000000000000001","stream":"logs","ranges":[[1,2]]}""", "unknown-stream" },
        { """{"schema":"edgeagent.ack/1","bootId":"00000000000000000000000000000001","stream":"telemetry","epoch":-1,"ranges":[[1,2]]}""", "bad-epoch" },
        { """{"schema":"edgeagent.ack/1","bootId":"00000000000000000000000000000001","stream":"telemetry","ranges":[]}""", "no-ranges" },
        { """{"schema":"edgeagent.ack/1","bootId":"00000000000000000000000000000001","stream":"telemetry","ranges":[[5,2]]}""", "bad-range" },
        { """{"schema":"edgeagent.ack/1","bootId":"00000000000000000000000000000001","stream":"telemetry","ranges":[[1,2,3]]}""", "bad-range" },
        { """{"schema":"edgeagent.ack/1","bootId":"00000000000000000000000000000001","stream":"telemetry","ranges":[[0,2]]}""", "bad-range" },
        { """{"schema":"edgeagent.ack/1","bootId":"00000000000000000000000000000001","stream":"telemetry","ranges":[[1,4],[3,6]]}""", "bad-range" },
        { """{"schema":"edgeagent.ack/1","bootId":"00000000000000000000000000000001","stream":"telemetry"}""", "not-json" },
    };

    [Theory]
    [MemberData(nameof(MalformedAcks))]
    public async Task A_malformed_ack_is_ignored_with_a_counted_reason_and_deletes_nothing(string message, string reason)
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        for (var i = 0; i < 3; i++) await outbox.AppendAsync(Events.Telemetry(i));
        // A well-formed message for this boot would delete seqs 1-2; every case differs from it in one way.
        var bytes = Encoding.UTF8.GetBytes(message.Replace("00000000000000000000000000000001", outbox.BootId));

        var result = await outbox.AcknowledgeMessageAsync(bytes);

        Assert.False(result.Applied);
        Assert.Equal(3, Events.ReadRows(dir.File("o.db")).Count);
        Assert.Equal(1, outbox.GetStatistics().IgnoredAcks[reason]);
    }

    [Fact]
    public async Task An_ack_for_a_boot_the_device_does_not_know_is_ignored_and_counted()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        await outbox.AppendAsync(Events.Telemetry(1));
        var ack = new TelemetryAck { Schema = TelemetryAckCodec.Schema, BootId = new string('a', 32), Stream = "telemetry", Ranges = [[1, 1]] };

        var result = await outbox.AcknowledgeMessageAsync(TelemetryAckCodec.Encode(ack));

        Assert.Equal(new OutboxAckResult(0, Applied: false), result);
        Assert.Single(Events.ReadRows(dir.File("o.db")));
        Assert.Equal(1, outbox.GetStatistics().IgnoredAcks["unknown-boot"]);
    }

    [Fact]
    public async Task Rows_awaiting_the_hub_count_in_the_disk_budget_and_telemetry_is_still_dropped_oldest_first()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db"), budget: 1024 * 1024));
        var transport = new FaultInjectingTransport(); // no hub acks: everything sent stays
        var drainer = new OutboxDrainer(outbox, transport, Options() with { MaxBatchEvents = 100, MaxAwaitingBatches = 1000 });
        using var cts = new CancellationTokenSource();
        var run = drainer.RunAsync(cts.Token);
        for (var i = 0; i < 6000; i++)
        {
            await outbox.EnqueueAsync(Events.Telemetry(i, pad: 200));
            if (i % 200 != 199) continue;
            // Checked after each commit, as DiskBudgetTests does (the contract holds between commits).
            await outbox.FlushAsync();
            Assert.True(outbox.DiskBytes <= outbox.BudgetBytes, $"disk {outbox.DiskBytes} > budget {outbox.BudgetBytes}");
        }
        await outbox.FlushAsync();
        await cts.CancelAsync();
        await run;

        var stats = outbox.GetStatistics();
        Assert.True(stats.DroppedEvents > 0, "awaiting rows filled the budget, so the oldest were dropped");
        Assert.True(outbox.DiskBytes <= outbox.BudgetBytes);
        var rows = Events.ReadRows(dir.File("o.db"));
        Assert.Contains(rows, r => r.Kind == TelemetryEventKind.Tombstone);
        Assert.DoesNotContain(rows, r => r.Seq == 1); // oldest first: the first (sent, unacked) event was dropped
    }
}
