using System.Text;
using EdgeAgent.Telemetry.Dedup;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Tests.Dedup;

public sealed class DeduplicatorTests
{
    private const string BootA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    private const string BootB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    private const TelemetryStream T = TelemetryStream.Telemetry;

    [Fact]
    public void A_seq_seen_before_is_a_duplicate()
    {
        var d = new TelemetryDeduplicator();
        Assert.Equal(DedupVerdict.Accepted, d.Observe("dev", BootA, T, 1));
        Assert.Equal(DedupVerdict.Accepted, d.Observe("dev", BootA, T, 2));
        Assert.Equal(DedupVerdict.Duplicate, d.Observe("dev", BootA, T, 2));
        Assert.Equal(DedupVerdict.Duplicate, d.Observe("dev", BootA, T, 1));
        Assert.Equal(new DedupStatistics(2, 2, 0, 0, 1), d.Statistics);
    }

    [Fact]
    public void Reordering_inside_the_window_loses_nothing_and_repeats_nothing()
    {
        var d = new TelemetryDeduplicator(new TelemetryDedupOptions { WindowSize = 64 });
        var order = new long[] { 10, 5, 7, 6, 12, 11, 9, 8, 1, 2, 3, 4 };
        Assert.All(order, s => Assert.Equal(DedupVerdict.Accepted, d.Observe("dev", BootA, T, s)));
        Assert.All(order, s => Assert.Equal(DedupVerdict.Duplicate, d.Observe("dev", BootA, T, s)));
    }

    [Fact]
    public void A_seq_at_or_below_high_water_minus_window_is_refused_as_too_old()
    {
        var d = new TelemetryDeduplicator(new TelemetryDedupOptions { WindowSize = 64 });
        d.Observe("dev", BootA, T, 5);
        d.Observe("dev", BootA, T, 100);
        Assert.Equal(DedupVerdict.TooOld, d.Observe("dev", BootA, T, 36)); // 100 - 64
        Assert.Equal(DedupVerdict.TooOld, d.Observe("dev", BootA, T, 5));  // a replay long after the window
        Assert.Equal(DedupVerdict.Accepted, d.Observe("dev", BootA, T, 37)); // still inside, never seen
        Assert.Equal(1 + 1 + 1, d.Statistics.Accepted);
        Assert.Equal(2, d.Statistics.TooOld);
    }

    [Fact]
    public void Bits_reused_after_the_window_slides_do_not_leak_old_state()
    {
        var d = new TelemetryDeduplicator(new TelemetryDedupOptions { WindowSize = 64 });
        for (long s = 1; s <= 64; s++) d.Observe("dev", BootA, T, s);
        // 65..127 reuse the bit positions of 1..63: they must be treated as new.
        for (long s = 65; s <= 127; s += 2) Assert.Equal(DedupVerdict.Accepted, d.Observe("dev", BootA, T, s));
        for (long s = 66; s <= 126; s += 2) Assert.Equal(DedupVerdict.Accepted, d.Observe("dev", BootA, T, s));
    }

    [Fact]
    public void A_new_boot_starts_its_own_sequence_and_the_old_boot_keeps_deduplicating()
    {
        var d = new TelemetryDeduplicator();
        for (long s = 1; s <= 500; s++) d.Observe("dev", BootA, T, s);
        Assert.Equal(DedupVerdict.Accepted, d.Observe("dev", BootB, T, 1));
        Assert.Equal(DedupVerdict.Duplicate, d.Observe("dev", BootB, T, 1));
        Assert.Equal(DedupVerdict.Duplicate, d.Observe("dev", BootA, T, 499)); // backlog of the old boot replayed
        Assert.Equal(DedupVerdict.Accepted, d.Observe("dev", BootA, T, 501));
    }

    [Fact]
    public void Streams_and_devices_have_independent_state()
    {
        var d = new TelemetryDeduplicator(new TelemetryDedupOptions { WindowSize = 64 });
        d.Observe("dev", BootA, T, 1000);
        // Drift seq 3 of the same boot arrives after telemetry 1000 (streams drain independently).
        Assert.Equal(DedupVerdict.Accepted, d.Observe("dev", BootA, TelemetryStream.Drift, 3));
        Assert.Equal(DedupVerdict.Accepted, d.Observe("other", BootA, T, 1000));
    }

    [Fact]
    public void The_live_epoch_sent_before_the_backlog_epoch_loses_nothing()
    {
        var d = new TelemetryDeduplicator(new TelemetryDedupOptions { WindowSize = 64 });
        // After an outage the device sends epoch 1 (seqs 5000+) before epoch 0 (seqs 1..4999).
        for (long s = 5000; s < 5100; s++) Assert.Equal(DedupVerdict.Accepted, d.Observe("dev", BootA, T, s, epoch: 1));
        for (long s = 1; s < 200; s++) Assert.Equal(DedupVerdict.Accepted, d.Observe("dev", BootA, T, s, epoch: 0));
        Assert.Equal(DedupVerdict.Duplicate, d.Observe("dev", BootA, T, 150, epoch: 0));
        Assert.Equal(0, d.Statistics.TooOld);
        // Without the epoch the same backlog would be below the window: the reason epochs exist.
        Assert.Equal(DedupVerdict.TooOld, d.Observe("dev", BootA, T, 1, epoch: 1));
    }

    [Fact]
    public void Memory_stays_bounded_by_forgetting_the_least_recently_active_boot()
    {
        var d = new TelemetryDeduplicator(new TelemetryDedupOptions { MaxBootsPerDevice = 2 });
        d.Observe("dev", BootA, T, 1);
        d.Observe("dev", BootB, T, 1);
        d.Observe("dev", BootB, T, 2);
        d.Observe("dev", "cccccccccccccccccccccccccccccccc", T, 1); // forgets A
        Assert.Equal(1, d.Statistics.StatesForgotten);
        // Documented consequence: a forgotten boot's events count as new again.
        Assert.Equal(DedupVerdict.Accepted, d.Observe("dev", BootA, T, 1));
        Assert.Equal(2, d.Statistics.StatesForgotten); // re-adding A forgot B, the least recently active
    }

    [Fact]
    public void Filter_applies_a_retried_batch_once_and_reports_tombstones()
    {
        var tomb = """{"stream":"telemetry","bootId":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","fromSeq":1,"toSeq":40,"count":38,"reason":"disk budget exceeded"}""";
        var events = new[]
        {
            new WireEvent(41, DateTimeOffset.UnixEpoch, 255, TelemetryEventKind.Tombstone, Encoding.UTF8.GetBytes(tomb), true),
            new WireEvent(42, DateTimeOffset.UnixEpoch, 0, TelemetryEventKind.Data, Encoding.UTF8.GetBytes("""{"n":42}"""), true),
        };
        var bytes = new TelemetryBatchEncoder().Encode("dev", T, BootA, events, DateTimeOffset.UnixEpoch).Payload;
        var d = new TelemetryDeduplicator();

        var first = d.Filter(TelemetryBatchDecoder.Decode(bytes));
        var retry = d.Filter(TelemetryBatchDecoder.Decode(bytes));

        Assert.Equal(2, first.Accepted.Count);
        var t = Assert.Single(first.Tombstones);
        Assert.Equal((1L, 40L, 38L, BootA), (t.FromSeq, t.ToSeq, t.Count, t.BootId));
        Assert.Empty(retry.Accepted);
        Assert.Empty(retry.Tombstones);
        Assert.Equal(2, retry.Duplicates);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100)]
    [InlineData(32)]
    public void Window_sizes_that_are_not_a_power_of_two_of_at_least_64_are_refused(int size) =>
        Assert.Throws<ArgumentException>(() => new TelemetryDeduplicator(new TelemetryDedupOptions { WindowSize = size }));
}
