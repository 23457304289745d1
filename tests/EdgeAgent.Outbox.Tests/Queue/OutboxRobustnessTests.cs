using EdgeAgent.Outbox.Drain;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Outbox.Tests.Support;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Tests.Queue;

public sealed class OutboxRobustnessTests
{
    [Fact]
    public async Task A_throwing_committed_handler_does_not_stop_the_writer()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        outbox.Committed += _ => throw new InvalidOperationException("handler bug");

        var first = await outbox.AppendAsync(Events.Telemetry(1));
        var second = await outbox.AppendAsync(Events.Telemetry(2));

        Assert.Equal((1L, 2L), (first.Seq, second.Seq));
    }

    [Fact]
    public async Task Appending_after_dispose_is_refused_clearly()
    {
        using var dir = new TempDirectory();
        var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        await outbox.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => outbox.AppendAsync(Events.Telemetry(1)).AsTask());
    }

    [Theory]
    [InlineData(0.9, 0.8, 0)]    // MaxGroupEvents
    [InlineData(0.5, 0.8, 100)]  // low ≥ high
    [InlineData(1.5, 0.8, 100)]  // high > 1
    public async Task Invalid_settings_are_refused_naming_the_setting(double high, double low, int group)
    {
        using var dir = new TempDirectory();
        var options = Events.Options(dir.File("o.db")) with { DropHighWatermark = high, DropLowWatermark = low, MaxGroupEvents = group };
        var ex = await Assert.ThrowsAsync<OutboxConfigurationException>(() => TelemetryOutbox.OpenAsync(options));
        Assert.Contains("Outbox", ex.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("o.db")), "a refused configuration must not create files");
    }

    [Fact]
    public async Task Reopening_with_a_smaller_budget_shrinks_the_files_below_it()
    {
        using var dir = new TempDirectory();
        var path = dir.File("o.db");
        await using (var outbox = await TelemetryOutbox.OpenAsync(Events.Options(path, 8L * 1024 * 1024)))
        {
            for (var i = 0; i < 12_000; i++) await outbox.EnqueueAsync(Events.Telemetry(i, 300));
            await outbox.AppendAsync(Events.Json(TelemetryStream.Update, """{"state":"committed"}"""));
        }
        Assert.True(new FileInfo(path).Length > 2L * 1024 * 1024);

        await using (var outbox = await TelemetryOutbox.OpenAsync(Events.Options(path, 2L * 1024 * 1024)))
        {
            Assert.True(outbox.DiskBytes <= 2L * 1024 * 1024, $"{outbox.DiskBytes} bytes on disk after reopening with a 2 MiB budget");
            Assert.True(outbox.GetStatistics().DroppedEvents > 0);
        }
        var rows = Events.ReadRows(path);
        Assert.Contains(rows, r => r.Stream == TelemetryStream.Update);      // never dropped
        Assert.Contains(rows, r => r.Kind == TelemetryEventKind.Tombstone);  // the drop is recorded
    }

    [Fact]
    public async Task Batches_respect_the_event_byte_and_seq_span_limits()
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        for (var i = 0; i < 600; i++)
        {
            // Every third event goes to another stream, so telemetry seqs have gaps.
            var e = i % 3 == 0 ? Events.Json(TelemetryStream.Drift, $$"""{"i":{{i}}}""") : Events.Telemetry(i, 100);
            await outbox.EnqueueAsync(e);
        }
        await outbox.FlushAsync();
        var transport = new FaultInjectingTransport();
        var drainer = new OutboxDrainer(outbox, transport,
            new DrainerOptions { DeviceId = "dev-1", MaxBatchEvents = 70, MaxBatchBytes = 5000, MaxBatchSeqSpan = 90 });
        using var cts = new CancellationTokenSource();
        var run = drainer.RunAsync(cts.Token);
        await Wait.UntilAsync(() => outbox.GetStatistics().PendingEvents.Values.Sum() == 0, "drained");
        await cts.CancelAsync();
        await run;

        Assert.All(transport.Delivered, d =>
        {
            Assert.InRange(d.Batch.Count, 1, 70);
            Assert.True(d.Batch.LastSeq - d.Batch.FirstSeq < 90);
        });
        Assert.Contains(transport.Delivered, d => d.Batch.Count < 70); // the byte or span limit cut some batches
        Assert.Equal(600, transport.Applied.Count);
    }

    [Theory]
    [InlineData("dev/1")]
    [InlineData("")]
    public async Task A_drainer_with_a_device_id_that_is_not_one_topic_level_is_refused(string deviceId)
    {
        using var dir = new TempDirectory();
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        Assert.Throws<ArgumentException>(() => new OutboxDrainer(outbox, new FaultInjectingTransport(), new DrainerOptions { DeviceId = deviceId }));
    }
}
