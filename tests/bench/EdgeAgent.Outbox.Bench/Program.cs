// Outbox benchmark (docs/bench/outbox.md).
//   dotnet run -c Release --project tests/bench/EdgeAgent.Outbox.Bench [-- --events N --rounds R --dir D]
// (a) durable ingest: TelemetryOutbox (synchronous=FULL, group commit) vs a raw bulk insert of the
//     same rows into the same schema in ONE transaction with one prepared command, same run, same disk.
// (b) drain: encode + publish to an in-process transport that acknowledges at once + delete. This is
//     an upper bound; the real rate against Mosquitto is measured once the MQTT client exists.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Telemetry.Wire;
using Microsoft.Data.Sqlite;

var events = Arg("--events", 200_000);
var rounds = Arg("--rounds", 3);
var root = ArgS("--dir", Path.Combine(Path.GetTempPath(), "edgeagent-outbox-bench"));
Directory.CreateDirectory(root);

var payloads = Enumerable.Range(0, events).Select(i => Encoding.UTF8.GetBytes(
    $$"""{"model":"vib-cnn","version":"1.4.2","label":"normal","score":0.{{9000 + (i % 999)}},"latencyUs":{{180 + (i % 37)}},"window":{{i}}}""")).ToArray();
var streams = Enumerable.Range(0, events).Select(i => (i % 50) switch
{
    0 => TelemetryStream.Drift,
    1 => TelemetryStream.Update,
    _ => TelemetryStream.Telemetry,
}).ToArray();

Console.WriteLine($"# outbox bench: {events} events/run, payload ≈ {payloads.Average(p => p.Length):0} B, {rounds} rounds, dir {root}");
Console.WriteLine($"# {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}");

// Range = 0: one EnqueueAsync per event; Range = n: EnqueueRangeAsync with n events per call.
var configs = new (string Name, OutboxDurability Durability, int Group, TimeSpan Window, int Range)[]
{
    ("outbox FULL, group ≤100 / 50 ms", OutboxDurability.Full, 100, TimeSpan.FromMilliseconds(50), 0),
    ("outbox FULL, group ≤1000 / 50 ms", OutboxDurability.Full, 1000, TimeSpan.FromMilliseconds(50), 0),
    ("outbox FULL, group ≤5000 / 50 ms (default)", OutboxDurability.Full, 5000, TimeSpan.FromMilliseconds(50), 0),
    ("outbox FULL, group ≤5000 / 50 ms (default), EnqueueRangeAsync ×100", OutboxDurability.Full, 5000, TimeSpan.FromMilliseconds(50), 100),
    ("outbox FULL, group ≤5000 / 50 ms (default), EnqueueRangeAsync ×1000", OutboxDurability.Full, 5000, TimeSpan.FromMilliseconds(50), 1000),
    ("outbox NORMAL, group ≤5000 / 50 ms", OutboxDurability.Normal, 5000, TimeSpan.FromMilliseconds(50), 0),
};
var results = new Dictionary<string, List<double>>();
var cpu = new Dictionary<string, List<double>>(); // events per CPU-second of this process: robust against other load
void Add(string name, (double Wall, double Cpu) v)
{
    if (!results.TryGetValue(name, out var l)) results[name] = l = [];
    l.Add(v.Wall);
    if (!cpu.TryGetValue(name, out var c)) cpu[name] = c = [];
    c.Add(v.Cpu);
}

// Warm-up (JIT, page cache, file creation) outside the measurement.
RawBulkInsert(Path.Combine(root, "warmup-raw.db"));
await OutboxIngest(Path.Combine(root, "warmup-outbox.db"), OutboxDurability.Full, 5000, TimeSpan.FromMilliseconds(50), 0);
await OutboxIngest(Path.Combine(root, "warmup-outbox.db"), OutboxDurability.Full, 5000, TimeSpan.FromMilliseconds(50), 1000);

for (var round = 0; round < rounds; round++)
{
    Add("raw bulk insert, FULL, 1 transaction", RawBulkInsert(Path.Combine(root, $"raw-{round}.db")));
    foreach (var c in configs)
        Add(c.Name, await OutboxIngest(Path.Combine(root, $"outbox-{round}.db"), c.Durability, c.Group, c.Window, c.Range));
}

Console.WriteLine();
// The machine is shared: compare each configuration with the raw baseline of the same round and
// report the median of those per-round ratios next to the ratio of medians.
Console.WriteLine("| (a) ingest | events/s (median of rounds) | runs | median ÷ raw median | median of per-round ratios | events per CPU-second (median) | CPU efficiency ÷ raw |");
Console.WriteLine("|---|---:|---|---:|---:|---:|---:|");
var rawCpu = Median(cpu["raw bulk insert, FULL, 1 transaction"]);
var rawRuns = results["raw bulk insert, FULL, 1 transaction"];
var raw = Median(rawRuns);
foreach (var (name, list) in results)
{
    var ratios = list.Select((v, i) => v / rawRuns[i]).ToList();
    Console.WriteLine($"| {name} | {Median(list):N0} | {string.Join(" / ", list.Select(v => v.ToString("N0", CultureInfo.InvariantCulture)))} | {Median(list) / raw:0.00} | {Median(ratios):0.00} | {Median(cpu[name]):N0} | {Median(cpu[name]) / rawCpu:0.00} |");
}

Console.WriteLine();
Console.WriteLine("| (b) drain, in-process transport (upper bound) | events/s | wire bytes/event | JSON bytes/event |");
Console.WriteLine("|---|---:|---:|---:|");
for (var round = 0; round < rounds; round++)
{
    var (rate, wire, json) = await Drain(Path.Combine(root, $"drain-{round}.db"));
    Console.WriteLine($"| round {round + 1}: batches ≤500 events, gzip when it helps | {rate:N0} | {wire:0.0} | {json:0.0} |");
}
return 0;

(double Wall, double Cpu) RawBulkInsert(string path)
{
    Clean(path);
    using var c = new SqliteConnection($"Data Source={path};Pooling=False");
    c.Open();
    Exec(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    // Same table and index as the outbox (agent/EdgeAgent.Outbox/Storage/OutboxSchema.cs).
    Exec(c, """
        CREATE TABLE events(id INTEGER PRIMARY KEY, stream INTEGER NOT NULL, boot INTEGER NOT NULL, seq INTEGER NOT NULL,
          epoch INTEGER NOT NULL DEFAULT 0, kind INTEGER NOT NULL, fmt INTEGER NOT NULL, prio INTEGER NOT NULL, ts_ms INTEGER NOT NULL, merge_key TEXT,
          merged_from INTEGER, merged_count INTEGER, payload BLOB NOT NULL);
        CREATE INDEX events_by_stream ON events(stream, boot, epoch, id);
        """);
    var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
    var sw = Stopwatch.StartNew();
    using var tx = c.BeginTransaction();
    using var cmd = c.CreateCommand();
    cmd.Transaction = tx;
    cmd.CommandText = "INSERT INTO events(stream, boot, seq, epoch, kind, fmt, prio, ts_ms, merge_key, merged_from, merged_count, payload) VALUES ($s, 1, $q, 0, 0, 0, 0, $t, NULL, NULL, NULL, $p);";
    var s = cmd.Parameters.Add("$s", SqliteType.Integer);
    var q = cmd.Parameters.Add("$q", SqliteType.Integer);
    var t = cmd.Parameters.Add("$t", SqliteType.Integer);
    var p = cmd.Parameters.Add("$p", SqliteType.Blob);
    var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    for (var i = 0; i < events; i++)
    {
        s.Value = (int)streams[i];
        q.Value = i + 1L;
        t.Value = now;
        p.Value = payloads[i].ToArray(); // the outbox copies each payload too
        cmd.ExecuteNonQuery();
    }
    tx.Commit();
    var wall = sw.Elapsed.TotalSeconds;
    return (events / wall, events / (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds);
}

async Task<(double Wall, double Cpu)> OutboxIngest(string path, OutboxDurability durability, int group, TimeSpan window, int range)
{
    Clean(path);
    await using var outbox = await TelemetryOutbox.OpenAsync(new OutboxOptions
    {
        DatabasePath = path,
        BudgetBytes = 1L << 30,
        Durability = durability,
        MaxGroupEvents = group,
        CommitWindow = window,
    });
    // The producer's events are at hand before the clock starts, as for the raw insert's rows.
    var batch = range > 0 ? Enumerable.Range(0, events).Select(i => new OutboxEvent(streams[i], payloads[i])).ToArray() : [];
    var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
    var sw = Stopwatch.StartNew();
    if (range > 0)
    {
        for (var i = 0; i < events; i += range)
            await outbox.EnqueueRangeAsync(batch.AsMemory(i, Math.Min(range, events - i)));
    }
    else
    {
        for (var i = 0; i < events; i++)
            await outbox.EnqueueAsync(new OutboxEvent(streams[i], payloads[i]));
    }
    await outbox.FlushAsync();
    var wall = sw.Elapsed.TotalSeconds;
    return (events / wall, events / (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds);
}

async Task<(double Rate, double WireBytes, double JsonBytes)> Drain(string path)
{
    Clean(path);
    await using var outbox = await TelemetryOutbox.OpenAsync(new OutboxOptions { DatabasePath = path, BudgetBytes = 1L << 30, MaxGroupEvents = 5000 });
    for (var i = 0; i < events; i++) await outbox.EnqueueAsync(new OutboxEvent(streams[i], payloads[i]));
    await outbox.FlushAsync();
    var drainer = new OutboxDrainer(outbox, new AckAtOnce(), new DrainerOptions { DeviceId = "bench-1", MaxBatchEvents = 500, MaxInFlight = 4 });
    using var cts = new CancellationTokenSource();
    var sw = Stopwatch.StartNew();
    var run = drainer.RunAsync(cts.Token);
    // Poll the drainer's counter (cheap), not GetStatistics (a COUNT over the table that would compete with the drainer's reads).
    while (drainer.Statistics.PublishedEvents < events) await Task.Delay(5);
    var elapsed = sw.Elapsed.TotalSeconds;
    await cts.CancelAsync();
    await run;
    var st = drainer.Statistics;
    return (st.PublishedEvents / elapsed, st.PublishedBytes / (double)st.PublishedEvents, st.JsonBytes / (double)st.PublishedEvents);
}

static void Clean(string path)
{
    foreach (var f in new[] { path, path + "-wal", path + "-shm", path + ".reserve" }) File.Delete(f);
}

static void Exec(SqliteConnection c, string sql)
{
    using var cmd = c.CreateCommand();
    cmd.CommandText = sql;
    cmd.ExecuteNonQuery();
}

static double Median(List<double> v)
{
    var s = v.Order().ToList();
    return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
}

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

string ArgS(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

/// <summary>Acknowledges every publish at once: measures the drainer, not a network.</summary>
internal sealed class AckAtOnce : ITelemetryTransport
{
    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, string contentType, CancellationToken cancellationToken) => ValueTask.CompletedTask;
}
