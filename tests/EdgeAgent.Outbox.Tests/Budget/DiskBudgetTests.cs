using System.Diagnostics;
using System.Text;
using System.Text.Json;
using EdgeAgent.Outbox.Drift;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Outbox.Tests.Support;
using EdgeAgent.Telemetry.Wire;

namespace EdgeAgent.Outbox.Tests.Budget;

public sealed class DiskBudgetTests
{
    private const long Budget = 1024 * 1024;

    [Fact]
    public async Task Database_and_wal_never_exceed_the_budget_and_tombstones_name_exactly_the_dropped_seqs()
    {
        using var dir = new TempDirectory();
        var path = dir.File("o.db");
        var kept = new List<long>(); // drift/update seqs: never dropped
        var telemetry = new List<long>();
        await using (var outbox = await TelemetryOutbox.OpenAsync(Events.Options(path, Budget) with { DropBatchEvents = 300 }))
        {
            for (var batch = 0; batch < 60; batch++)
            {
                var appends = new List<Task<OutboxReceipt>>();
                for (var i = 0; i < 100; i++)
                {
                    var n = batch * 100 + i;
                    var e = (n % 40) switch
                    {
                        0 => Events.Json(TelemetryStream.Drift, $$"""{"n":{{n}},"sketch":"{{new string('d', 300)}}"}"""),
                        1 => Events.Json(TelemetryStream.Update, $$"""{"n":{{n}},"state":"observing"}"""),
                        _ => Events.Telemetry(n, 300),
                    };
                    appends.Add(outbox.AppendAsync(e).AsTask());
                }
                var receipts = await Task.WhenAll(appends);
                for (var i = 0; i < 100; i++)
                    ((batch * 100 + i) % 40 < 2 ? kept : telemetry).Add(receipts[i].Seq);

                var onDisk = outbox.DiskBytes;
                Assert.True(onDisk <= Budget, $"after batch {batch}: db + wal = {onDisk} bytes > budget {Budget}");
            }
            Assert.True(outbox.GetStatistics().DroppedEvents > 0, "the test must push past the budget");
        }

        var rows = Events.ReadRows(path);
        var present = rows.Where(r => r.Kind == TelemetryEventKind.Data).Select(r => r.Seq).ToHashSet();
        Assert.All(kept, s => Assert.Contains(s, present));
        var tombstones = rows.Where(r => r.Kind == TelemetryEventKind.Tombstone)
            .Select(r => JsonSerializer.Deserialize(r.Payload, TelemetryJsonContext.Default.TombstonePayload)!).ToList();
        Assert.NotEmpty(tombstones);
        var missing = telemetry.Where(s => !present.Contains(s)).ToHashSet();
        var covered = new HashSet<long>();
        foreach (var t in tombstones)
        {
            Assert.Equal("telemetry", t.Stream);
            var inRange = telemetry.Where(s => s >= t.FromSeq && s <= t.ToSeq).ToList();
            Assert.All(inRange, s => Assert.Contains(s, missing)); // nothing inside a range survived
            Assert.Equal(inRange.Count, t.Count);                   // the count is exact
            covered.UnionWith(inRange);
        }
        Assert.Equal(missing.Order(), covered.Order()); // and every dropped seq is in some range
    }

    [Fact]
    public async Task Sqlite_full_is_handled_drift_is_refused_not_dropped_and_space_returns_after_delivery()
    {
        using var dir = new TempDirectory();
        var path = dir.File("o.db");
        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(path, OutboxOptions.MinimumBudgetBytes));
        var stored = new List<long>();
        OutboxFullException? full = null;
        for (var i = 0; i < 2000 && full is null; i++)
        {
            try
            {
                stored.Add((await outbox.AppendAsync(new OutboxEvent(TelemetryStream.Drift, new byte[4000], PayloadFormat.Binary))).Seq);
            }
            catch (OutboxFullException ex)
            {
                full = ex;
            }
        }

        Assert.NotNull(full);
        Assert.Contains("never dropped", full.Message, StringComparison.Ordinal);
        Assert.True(outbox.GetStatistics().DiskFullErrors > 0, "SQLite must really have returned SQLITE_FULL");
        Assert.True(outbox.DiskBytes <= OutboxOptions.MinimumBudgetBytes);

        // Telemetry that cannot be stored is dropped with a tombstone, not thrown at the caller.
        var t = await outbox.AppendAsync(Events.Telemetry(1, 3000));
        Assert.False(t.Stored);

        // Delivering (acknowledging) drift frees space; the outbox carries on.
        var transport = new FaultInjectingTransport();
        var drainer = new EdgeAgent.Outbox.Drain.OutboxDrainer(outbox, transport, new EdgeAgent.Outbox.Drain.DrainerOptions { DeviceId = "dev-1" });
        using var cts = new CancellationTokenSource();
        var run = drainer.RunAsync(cts.Token);
        await Wait.UntilAsync(() => outbox.GetStatistics().PendingEvents[TelemetryStream.Drift] == 0, "drift drained");
        await cts.CancelAsync();
        await run;
        var again = await outbox.AppendAsync(new OutboxEvent(TelemetryStream.Drift, new byte[4000], PayloadFormat.Binary));
        Assert.True(again.Stored);

        var drift = transport.Applied.Where(a => a.Stream == TelemetryStream.Drift).Select(a => a.Event.Seq).ToList();
        Assert.Equal(stored, drift); // every stored drift window delivered, none dropped
        var tomb = transport.Applied.Single(a => a.Event.KindValue == TelemetryEventKind.Tombstone);
        var payload = tomb.Event.Data!.Value.Deserialize(TelemetryJsonContext.Default.TombstonePayload)!;
        Assert.Equal((t.Seq, t.Seq, 1L), (payload.FromSeq, payload.ToSeq, payload.Count));
        Assert.True((await outbox.CheckIntegrityAsync()).IsOk);
    }

    [Fact]
    public async Task Old_drift_windows_are_merged_into_coarser_ones_instead_of_dropped()
    {
        using var dir = new TempDirectory();
        var path = dir.File("o.db");
        var merger = new CountingMerger();
        var total = 0;
        await using (var outbox = await TelemetryOutbox.OpenAsync(Events.Options(path, OutboxOptions.MinimumBudgetBytes), merger))
        {
            for (var i = 0; i < 400; i++)
            {
                var json = $$"""{"count":1,"window":{{i}},"pad":"{{new string('k', 2000)}}"}""";
                await outbox.AppendAsync(Events.Json(TelemetryStream.Drift, json, mergeKey: "model/f0"));
                total++;
                Assert.True(outbox.DiskBytes <= OutboxOptions.MinimumBudgetBytes);
            }
            Assert.True(outbox.GetStatistics().MergedWindows > 0);
        }

        var drift = Events.ReadRows(path).Where(r => r.Stream == TelemetryStream.Drift).ToList();
        Assert.True(drift.Count < total);
        // Nothing lost: the merged windows still add up to every appended window.
        Assert.Equal(total, drift.Sum(r => JsonDocument.Parse(r.Payload).RootElement.GetProperty("count").GetInt32()));
    }

    [Fact]
    public async Task Kll_drift_sketches_are_merged_keeping_every_value_and_the_extremes()
    {
        using var dir = new TempDirectory();
        var path = dir.File("o.db");
        var random = new Random(42);
        long values = 0;
        float min = float.MaxValue, max = float.MinValue;
        await using (var outbox = await TelemetryOutbox.OpenAsync(Events.Options(path, OutboxOptions.MinimumBudgetBytes), new KllDriftMerger(new Random(1))))
        {
            for (var window = 0; window < 150; window++)
            {
                var sketch = new EdgeAgent.Sketches.Kll.KllFloatsSketch(200, new Random(window));
                for (var i = 0; i < 5000; i++)
                {
                    var v = (float)(random.NextDouble() * 100 - 50);
                    sketch.Update(v);
                    min = Math.Min(min, v);
                    max = Math.Max(max, v);
                }
                values += 5000;
                await outbox.AppendAsync(new OutboxEvent(TelemetryStream.Drift, sketch.ToByteArray(), PayloadFormat.Binary, MergeKey: "model/f0"));
                Assert.True(outbox.DiskBytes <= OutboxOptions.MinimumBudgetBytes);
            }
            Assert.True(outbox.GetStatistics().MergedWindows > 0, "the budget must have forced merges");
        }

        var sketches = Events.ReadRows(path).Where(r => r.Stream == TelemetryStream.Drift)
            .Select(r => EdgeAgent.Sketches.Kll.KllFloatsSketch.Deserialize(r.Payload)).ToList();
        Assert.True(sketches.Count < 150);
        Assert.Equal(values, sketches.Sum(s => s.N));
        Assert.Equal(min, sketches.Min(s => s.MinItem));
        Assert.Equal(max, sketches.Max(s => s.MaxItem));
    }

    [Fact]
    public async Task A_real_full_file_system_is_survived()
    {
        using var dir = new TempDirectory();
        var mount = dir.File("tmpfs");
        Directory.CreateDirectory(mount);
        Run("mount", $"-t tmpfs -o size=3m tmpfs {mount}");
        try
        {
            var path = Path.Combine(mount, "o.db");
            // Budget far above the 3 MB file system: the disk fills before the budget does.
            await using (var outbox = await TelemetryOutbox.OpenAsync(Events.Options(path, 16L * 1024 * 1024)))
            {
                for (var batch = 0; batch < 200; batch++)
                {
                    var appends = Enumerable.Range(batch * 100, 100).Select(i => outbox.AppendAsync(Events.Telemetry(i, 200)).AsTask());
                    await Task.WhenAll(appends); // no exception: a full disk is handled, not thrown
                }
                var stats = outbox.GetStatistics();
                Assert.True(stats.DiskFullErrors > 0, "the file system must really have filled up");
                Assert.True(stats.DroppedEvents > 0);
                Assert.True(stats.PendingEvents[TelemetryStream.Telemetry] > 0);
                Assert.True((await outbox.CheckIntegrityAsync()).IsOk);
            }
            var rows = Events.ReadRows(path);
            Assert.Contains(rows, r => r.Kind == TelemetryEventKind.Tombstone);
        }
        finally
        {
            Run("umount", mount);
        }
    }

    private static void Run(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"'{file} {args}' failed ({err.Trim()}); this test needs root (CAP_SYS_ADMIN) to mount a small tmpfs");
    }

    /// <summary>Merges JSON windows by adding their "count" (a stand-in for a sketch merge; the seam is what is tested).</summary>
    private sealed class CountingMerger : IDriftMerger
    {
        public byte[]? Merge(string mergeKey, IReadOnlyList<DriftWindow> windows)
        {
            var count = windows.Sum(w => JsonDocument.Parse(w.Payload).RootElement.GetProperty("count").GetInt32());
            return Encoding.UTF8.GetBytes($$"""{"count":{{count}},"pad":"{{new string('k', 2000)}}"}""");
        }
    }
}
