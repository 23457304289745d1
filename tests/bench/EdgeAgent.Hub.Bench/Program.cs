// Telemetry ingest rate of the hub (decode + shared-rule dedup + INSERT … ON CONFLICT DO NOTHING +
// gaps, i.e. TelemetryIngestor.IngestAsync as the MQTT consumer calls it) on SQLite and PostgreSQL,
// against a baseline measured in the same run: a raw bulk insert of the same rows (same table, same
// batch = one transaction, one prepared INSERT without conflict handling, no decode, no dedup).
// Usage: dotnet run -c Release --project tests/bench/EdgeAgent.Hub.Bench [-- EVENTS [BATCH]]
// Mode "mqtt" (MqttIngestBench.cs): the MQTT ingest path with batch delivery on vs off, through Mosquitto.
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeAgent.Hub.Ingestion;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Telemetry.Wire;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

if (args.Length > 0 && args[0] == "mqtt")
{
    await EdgeAgent.Hub.Bench.MqttIngestBench.RunAsync(args[1..]);
    return;
}

int total = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50_000;
int batchSize = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100;
const int Rounds = 3;
var t0 = new DateTimeOffset(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);

// Ten devices, one boot each, batches in seq order; payloads like the agent's prediction events.
var batches = new List<(string Topic, byte[] Payload, TelemetryBatch Decoded)>();
var encoder = new TelemetryBatchEncoder();
int devices = 10, perDevice = total / devices;
for (int d = 0; d < devices; d++)
{
    var id = $"bench-{d:D2}";
    var boot = Convert.ToHexStringLower(BitConverter.GetBytes((long)d + 1)).PadLeft(32, '0');
    for (int first = 1; first <= perDevice; first += batchSize)
    {
        var events = new List<WireEvent>();
        for (long s = first; s < first + batchSize && s <= perDevice; s++)
            events.Add(new WireEvent(s, t0.AddMilliseconds(s * 20), 0, TelemetryEventKind.Data,
                Encoding.UTF8.GetBytes($$"""{"model":"vib-mlp","label":"normal","score":0.{{s % 97:D2}},"latencyUs":{{180 + s % 13}}}"""), true));
        var enc = encoder.Encode(id, TelemetryStream.Telemetry, boot, events, t0);
        batches.Add((TelemetryStreams.Topic(id, TelemetryStream.Telemetry), enc.Payload, TelemetryBatchDecoder.Decode(enc.Payload)));
    }
}
int eventCount = batches.Sum(b => b.Decoded.Count);
Console.WriteLine($"edgehub ingest benchmark: {eventCount} events, {batches.Count} batches of {batchSize}, {devices} devices, best/median of {Rounds} rounds after a warm-up round");
Console.WriteLine($"{Environment.ProcessorCount} CPUs, .NET {Environment.Version}");
Console.WriteLine();

var results = new List<string>();
double lastCpuSeconds = 0;
var dir = Directory.CreateTempSubdirectory("edgehub-bench-").FullName;
try
{
    await RunAsync("SQLite (WAL, synchronous=NORMAL)", () => new SqliteHubStore(Path.Combine(dir, Guid.NewGuid().ToString("N") + ".db")), OpenSqlite);
    await using var pg = await PostgresServer.StartAsync(durable: true);
    await RunAsync("PostgreSQL 15 (fsync on, unix socket)", () => new PostgresHubStore(pg.CreateDatabaseAsync("b" + Guid.NewGuid().ToString("N")[..12]).GetAwaiter().GetResult()),
        store => OpenPostgres(store));
}
finally
{
    SqliteConnection.ClearAllPools();
    Directory.Delete(dir, recursive: true);
}
Console.WriteLine();
Console.WriteLine("| store | path | events/s (best) | events/s (median) | median vs raw insert | hub CPU µs/event (median) |");
Console.WriteLine("|---|---|---:|---:|---:|---:|");
foreach (var line in results) Console.WriteLine(line);

async Task RunAsync(string name, Func<SqlHubStore> newStore, Func<SqlHubStore, Task<DbConnection>> open)
{
    var raw = new List<double>();
    var rawCpu = new List<double>();
    var ingestCpu = new List<double>();
    var copy = new List<double>();
    var ingest = new List<double>();
    var redelivered = new List<double>();
    for (int round = 0; round <= Rounds; round++)
    {
        bool warmUp = round == 0; // JIT and connection pools; not counted
        // Baseline: a fresh database, raw INSERTs of exactly the rows the ingestor stores.
        await using (var store = newStore())
        {
            await store.MigrateAsync();
            raw.Add(eventCount / await TimeAsync(() => RawInsertAsync(store, open)));
            rawCpu.Add(lastCpuSeconds * 1e6 / eventCount);
        }
        if (name.StartsWith("PostgreSQL", StringComparison.Ordinal))
        {
            // Second baseline on PostgreSQL: binary COPY, the fastest way rows get in (no conflict handling possible).
            await using var store = newStore();
            await store.MigrateAsync();
            copy.Add(eventCount / await TimeAsync(() => CopyInsertAsync(store)));
        }
        // Ingest: a fresh database, every batch once.
        await using (var store = newStore())
        {
            await store.MigrateAsync();
            var ingestor = new TelemetryIngestor(store, TimeProvider.System, NullLogger<TelemetryIngestor>.Instance);
            ingest.Add(eventCount / await TimeAsync(async () =>
            {
                foreach (var b in batches) await ingestor.IngestAsync(b.Topic, b.Payload, default);
            }));
            ingestCpu.Add(lastCpuSeconds * 1e6 / eventCount);
            if (await store.CountEventsAsync() != eventCount) throw new InvalidOperationException("ingest lost or duplicated events");
            // Redelivery after a hub restart: fresh dedup memory, every batch again; the primary key drops them all.
            var restarted = new TelemetryIngestor(store, TimeProvider.System, NullLogger<TelemetryIngestor>.Instance);
            redelivered.Add(eventCount / await TimeAsync(async () =>
            {
                foreach (var b in batches) await restarted.IngestAsync(b.Topic, b.Payload, default);
            }));
            if (await store.CountEventsAsync() != eventCount) throw new InvalidOperationException("redelivery duplicated events");
        }
        if (warmUp)
        {
            raw.Clear(); copy.Clear(); ingest.Clear(); redelivered.Clear(); rawCpu.Clear(); ingestCpu.Clear();
            Console.WriteLine($"{name}: warm-up round done");
            continue;
        }
        Console.WriteLine($"{name} round {round}: raw {raw[^1]:N0}/s,{(copy.Count > 0 ? $" COPY {copy[^1]:N0}/s," : "")} ingest {ingest[^1]:N0}/s, hub CPU µs/event raw {rawCpu[^1]:F1} ingest {ingestCpu[^1]:F1}, redelivered after restart {redelivered[^1]:N0}/s");
    }
    double rawMedian = Median(raw);
    results.Add($"| {name} | raw bulk insert, prepared INSERT per row (baseline) | {raw.Max():N0} | {rawMedian:N0} | 1.00 | {Median(rawCpu):F1} |");
    if (copy.Count > 0) results.Add($"| {name} | binary COPY, one per batch (baseline) | {copy.Max():N0} | {Median(copy):N0} | {Median(copy) / rawMedian:F2} | |");
    results.Add($"| {name} | ingest: decode + dedup + insert-if-absent | {ingest.Max():N0} | {Median(ingest):N0} | {Median(ingest) / rawMedian:F2} | {Median(ingestCpu):F1} |");
    results.Add($"| {name} | redelivery after hub restart (all duplicates) | {redelivered.Max():N0} | {Median(redelivered):N0} | {Median(redelivered) / rawMedian:F2} | |");
}

async Task RawInsertAsync(SqlHubStore store, Func<SqlHubStore, Task<DbConnection>> open)
{
    await using var c = await open(store);
    var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    foreach (var b in batches)
    {
        await using var tx = await c.BeginTransactionAsync();
        await using var cmd = c.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "INSERT INTO telemetry_events (device_id, boot_id, seq, stream, kind, ts, prio, data, bin, received_at) VALUES (@d, @b, @s, @st, @k, @ts, @p, @data, NULL, @r)";
        var ps = new[] { "d", "b", "s", "st", "k", "ts", "p", "data", "r" }.Select(n => { var p = cmd.CreateParameter(); p.ParameterName = n; cmd.Parameters.Add(p); return p; }).ToArray();
        foreach (var e in b.Decoded.Events)
        {
            ps[0].Value = b.Decoded.DeviceId; ps[1].Value = b.Decoded.BootId; ps[2].Value = e.Seq; ps[3].Value = b.Decoded.Stream; ps[4].Value = e.Kind;
            ps[5].Value = e.Ts.ToUnixTimeMilliseconds(); ps[6].Value = (long)e.Prio; ps[7].Value = e.Data!.Value.GetRawText(); ps[8].Value = now;
            await cmd.ExecuteNonQueryAsync();
        }
        await tx.CommitAsync();
    }
}

async Task CopyInsertAsync(SqlHubStore store)
{
    await using var c = new NpgsqlConnection(((PostgresHubStore)store).ConnectionString);
    await c.OpenAsync();
    var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    foreach (var b in batches)
    {
        await using var tx = await c.BeginTransactionAsync();
        await using (var w = await c.BeginBinaryImportAsync("COPY telemetry_events (device_id, boot_id, seq, stream, kind, ts, prio, data, bin, received_at) FROM STDIN (FORMAT BINARY)"))
        {
            foreach (var e in b.Decoded.Events)
            {
                await w.StartRowAsync();
                await w.WriteAsync(b.Decoded.DeviceId, NpgsqlTypes.NpgsqlDbType.Text);
                await w.WriteAsync(b.Decoded.BootId, NpgsqlTypes.NpgsqlDbType.Text);
                await w.WriteAsync(e.Seq, NpgsqlTypes.NpgsqlDbType.Bigint);
                await w.WriteAsync(b.Decoded.Stream, NpgsqlTypes.NpgsqlDbType.Text);
                await w.WriteAsync(e.Kind, NpgsqlTypes.NpgsqlDbType.Text);
                await w.WriteAsync(e.Ts.ToUnixTimeMilliseconds(), NpgsqlTypes.NpgsqlDbType.Bigint);
                await w.WriteAsync((long)e.Prio, NpgsqlTypes.NpgsqlDbType.Bigint);
                await w.WriteAsync(e.Data!.Value.GetRawText(), NpgsqlTypes.NpgsqlDbType.Text);
                await w.WriteNullAsync();
                await w.WriteAsync(now, NpgsqlTypes.NpgsqlDbType.Bigint);
            }
            await w.CompleteAsync();
        }
        await tx.CommitAsync();
    }
}

static async Task<DbConnection> OpenSqlite(SqlHubStore store)
{
    var c = new SqliteConnection($"Data Source={((SqliteHubStore)store).DatabasePath}");
    await c.OpenAsync();
    await using var cmd = c.CreateCommand();
    cmd.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL";
    await cmd.ExecuteNonQueryAsync();
    return c;
}

static async Task<DbConnection> OpenPostgres(SqlHubStore store)
{
    var c = new NpgsqlConnection(((PostgresHubStore)store).ConnectionString);
    await c.OpenAsync();
    return c;
}

// Wall time of body; the hub process's CPU time goes to cpuLog (the machine is shared: CPU time is
// the steadier figure for in-process SQLite; for PostgreSQL it leaves out the server's share).
async Task<double> TimeAsync(Func<Task> body)
{
    var process = Process.GetCurrentProcess();
    var cpu0 = process.TotalProcessorTime;
    var sw = Stopwatch.StartNew();
    await body();
    var wall = sw.Elapsed.TotalSeconds;
    process.Refresh();
    lastCpuSeconds = (process.TotalProcessorTime - cpu0).TotalSeconds;
    return wall;
}

static double Median(List<double> xs)
{
    var s = xs.OrderBy(x => x).ToList();
    return s[s.Count / 2];
}
