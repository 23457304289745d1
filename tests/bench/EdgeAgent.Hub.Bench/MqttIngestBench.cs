// Mode "mqtt": the hub's MQTT ingest path end to end — N publishers send 1-event telemetry messages (like the
// fleet simulation) through a real Mosquitto to a real MqttHubConsumer + TelemetryIngestor + store, with batch
// delivery ON (IngestBatchSize 256) and OFF (1, the baseline: one transaction per message) in the same run.
// Usage: dotnet run -c Release --project tests/bench/EdgeAgent.Hub.Bench -- mqtt [--rates 300,1000,0]
//        [--seconds 10] [--messages 20000] [--publishers 20] [--inflight 20] [--stores sqlite,postgres]
using System.Data.Common;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Ingestion;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Mqtt;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.TestSupport.Mosquitto;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace EdgeAgent.Hub.Bench;

/// <summary>One measured run: an offered rate (0 = as fast as the publishers go) with batching on or off.</summary>
internal sealed record MqttIngestRun(string Store, int OfferedRate, int BatchSize, int Messages, double PublishSeconds, double StoredSeconds,
    double LagP50Ms, double LagP99Ms, double LagMaxMs, double DrainSeconds, long Batches, int LargestBatch)
{
    public double StoredPerSecond => Messages / StoredSeconds;
}

internal static class MqttIngestBench
{
    public static async Task RunAsync(string[] args)
    {
        var rates = Arg(args, "--rates", "300,1000,0").Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToArray();
        double seconds = double.Parse(Arg(args, "--seconds", "10"), CultureInfo.InvariantCulture);
        int maxMessages = int.Parse(Arg(args, "--messages", "20000"), CultureInfo.InvariantCulture);
        int publishers = int.Parse(Arg(args, "--publishers", "20"), CultureInfo.InvariantCulture);
        int inflight = int.Parse(Arg(args, "--inflight", "20"), CultureInfo.InvariantCulture);
        var stores = Arg(args, "--stores", "sqlite,postgres").Split(',');

        // The fleet simulation's broker settings (tests/EdgeAgent.FleetSim/Infrastructure/FleetBroker.cs): no per-client
        // queue cap (Mosquitto's 1,000 would drop QoS 1 messages of a lagging hub), max_inflight_messages as given
        // (Mosquitto's default 20 is also the most unacknowledged messages it sends the hub, i.e. the largest batch).
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions
        {
            MaxInflightMessages = inflight,
            ExtraConfig = ["max_queued_messages 1000000", "max_connections -1"],
        });
        Console.WriteLine($"edgehub MQTT ingest benchmark: {publishers} publishers, 1 event per message, QoS 1, Mosquitto max_inflight_messages {inflight}, " +
                          $"{seconds:0} s per offered rate (rate 0: {maxMessages} messages as fast as possible)");
        Console.WriteLine($"{Environment.ProcessorCount} CPUs, .NET {Environment.Version}");
        var runs = new List<MqttIngestRun>();
        var dir = Directory.CreateTempSubdirectory("edgehub-mqtt-bench-").FullName;
        PostgresServer? pg = null;
        try
        {
            foreach (var storeKind in stores)
            {
                if (storeKind == "postgres") pg = await PostgresServer.StartAsync(durable: true);
                // Warm-up (JIT, pools), not counted.
                await OneRunAsync(broker, storeKind, dir, pg, 500, 1, 1000, publishers, runs: null);
                foreach (int rate in rates)
                {
                    int messages = rate == 0 ? maxMessages : (int)(rate * seconds);
                    foreach (int batch in new[] { 1, 256 }) // baseline first, then batching, same rate, same broker
                        await OneRunAsync(broker, storeKind, dir, pg, rate, batch, messages, publishers, runs);
                }
                if (pg is not null) await pg.DisposeAsync();
                pg = null;
            }
        }
        finally
        {
            if (pg is not null) await pg.DisposeAsync();
            SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }

        Console.WriteLine();
        Console.WriteLine("| store | offered msg/s | hub batch | messages | stored msg/s | vs batch 1 | lag p50 ms | lag p99 ms | lag max ms | drain after last publish s | batches | largest |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in runs)
        {
            var baseline = runs.First(b => b.Store == r.Store && b.OfferedRate == r.OfferedRate && b.BatchSize == 1);
            Console.WriteLine($"| {r.Store} | {(r.OfferedRate == 0 ? "max" : r.OfferedRate.ToString("N0", CultureInfo.InvariantCulture))} | {r.BatchSize} | {r.Messages:N0} | " +
                              $"{r.StoredPerSecond:N0} | {r.StoredPerSecond / baseline.StoredPerSecond:F2} | {r.LagP50Ms:N0} | {r.LagP99Ms:N0} | {r.LagMaxMs:N0} | {r.DrainSeconds:F1} | {r.Batches:N0} | {r.LargestBatch} |");
        }
    }

    private static string Arg(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    private static async Task OneRunAsync(MosquittoBroker broker, string storeKind, string dir, PostgresServer? pg, int rate, int batchSize, int messages,
        int publishers, List<MqttIngestRun>? runs)
    {
        string tag = Guid.NewGuid().ToString("N")[..8];
        string storeSpec;
        SqlHubStore store;
        if (storeKind == "postgres")
        {
            var cs = await pg!.CreateDatabaseAsync("m" + tag);
            store = new PostgresHubStore(cs);
            storeSpec = "postgres:" + cs;
        }
        else
        {
            var path = Path.Combine(dir, tag + ".db");
            store = new SqliteHubStore(path);
            storeSpec = "sqlite:" + path;
        }
        await using var _s = store;
        await store.MigrateAsync();
        var options = new HubOptions
        {
            Store = storeSpec,
            MqttHost = "127.0.0.1",
            MqttPort = broker.Port,
            MqttClientId = "bench-hub-" + tag,
            ShareGroup = "bench" + tag,
            IngestBatchSize = batchSize,
        };
        var ingestor = new TelemetryIngestor(store, TimeProvider.System, NullLogger<TelemetryIngestor>.Instance);
        var hub = new MqttHubConsumer(options, store, ingestor, TimeProvider.System, NullLogger<MqttHubConsumer>.Instance);
        using var stop = new CancellationTokenSource();
        await hub.StartAsync(stop.Token);
        await hub.Subscribed.WaitAsync(TimeSpan.FromSeconds(30));

        var clients = new List<MqttClient>();
        for (int p = 0; p < publishers; p++)
        {
            var c = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", broker.Port), ClientId = $"bench-dev-{tag}-{p:D3}" });
            await c.ConnectAsync();
            clients.Add(c);
        }
        var encoder = new TelemetryBatchEncoder();
        string boot = new('7', 32);
        var seqs = new long[publishers];
        var pending = new List<Task>(messages);
        var clock = Stopwatch.StartNew();
        int sent = 0;
        while (sent < messages)
        {
            // Paced: publish what is due by now (rate 0: everything at once); round-robin over the devices.
            int due = rate == 0 ? messages : Math.Min(messages, (int)(clock.Elapsed.TotalSeconds * rate) + 1);
            for (; sent < due; sent++)
            {
                int p = sent % publishers;
                string id = $"bench-dev-{tag}-{p:D3}";
                long seq = ++seqs[p];
                var payload = encoder.Encode(id, TelemetryStream.Telemetry, boot,
                    [new WireEvent(seq, DateTimeOffset.UtcNow, 0, TelemetryEventKind.Data,
                        Encoding.UTF8.GetBytes($$"""{"model":"vib-mlp","label":"normal","score":0.{{seq % 97:D2}},"latencyUs":{{180 + seq % 13}}}"""), true)],
                    DateTimeOffset.UtcNow).Payload;
                pending.Add(clients[p].PublishAsync(new MqttApplicationMessage { Topic = TelemetryStreams.Topic(id, TelemetryStream.Telemetry), Payload = payload }));
            }
            if (sent < messages) await Task.Delay(5);
        }
        await Task.WhenAll(pending);
        double published = clock.Elapsed.TotalSeconds;
        long stored;
        while ((stored = await store.CountEventsAsync()) < messages)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException($"only {stored} of {messages} events stored after 10 minutes");
            await Task.Delay(50);
        }
        double done = clock.Elapsed.TotalSeconds;
        if (stored != messages) throw new InvalidOperationException($"{stored} events stored for {messages} messages");

        // Lag: the store's receive time minus the device's event time (same clock, same process), per event.
        var lags = await LagsAsync(store);
        lags.Sort();
        foreach (var c in clients) await c.DisposeAsync();
        await stop.CancelAsync();
        await hub.StopAsync(CancellationToken.None);
        hub.Dispose();

        var run = new MqttIngestRun(storeKind, rate, batchSize, messages, published, done, Pct(lags, 0.5), Pct(lags, 0.99), lags[^1],
            done - published, hub.Batches, hub.LargestBatch);
        if (runs is null)
        {
            Console.WriteLine($"{storeKind}: warm-up done");
            return;
        }
        runs.Add(run);
        Console.WriteLine($"{storeKind} offered {(rate == 0 ? "max" : rate.ToString(CultureInfo.InvariantCulture))}/s batch {batchSize}: {messages} messages published in {published:F1} s, " +
                          $"stored {run.StoredPerSecond:N0}/s, lag p50 {run.LagP50Ms:N0} ms p99 {run.LagP99Ms:N0} ms max {run.LagMaxMs:N0} ms, {hub.Batches} batches (largest {hub.LargestBatch})");
    }

    private static async Task<List<double>> LagsAsync(SqlHubStore store)
    {
        DbConnection c = store is PostgresHubStore pg
            ? new NpgsqlConnection(pg.ConnectionString)
            : new SqliteConnection($"Data Source={((SqliteHubStore)store).DatabasePath}");
        await using var _ = c;
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT received_at - ts FROM telemetry_events";
        var lags = new List<double>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) lags.Add(Convert.ToDouble(r.GetValue(0), CultureInfo.InvariantCulture));
        return lags;
    }

    private static double Pct(List<double> sorted, double q) => sorted[Math.Min(sorted.Count - 1, (int)(q * sorted.Count))];
}
