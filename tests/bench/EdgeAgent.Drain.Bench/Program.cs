// Drain rate to a real broker (issue 4 (b), target ≥ 20,000 events/s in batches):
//   dotnet run -c Release --project tests/bench/EdgeAgent.Drain.Bench [-- --events N --rounds R]
// Each round fills a fresh outbox (FULL) with N telemetry events while offline, then starts the drainer
// over our MQTT client to Mosquitto on loopback and times until a subscriber running the hub's dedup
// rule has accepted all N. Baseline in the same round: the same drain into a transport that
// acknowledges at once (no broker), i.e. the outbox's own read/encode/delete cost.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeAgent.Agent.Telemetry;
using EdgeAgent.Mqtt;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Telemetry.Dedup;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.TestSupport.Mosquitto;

int events = Arg("--events", 100_000), rounds = Arg("--rounds", 3);
string root = Path.Combine(Path.GetTempPath(), "edgeagent-drain-bench");
Directory.CreateDirectory(root);
await using var broker = await MosquittoBroker.StartAsync();
var broker_ = new List<double>();
var inproc = new List<double>();
for (int round = 0; round < rounds; round++)
{
    inproc.Add(await DrainAsync(Path.Combine(root, $"inproc-{round}.db"), useBroker: false));
    broker_.Add(await DrainAsync(Path.Combine(root, $"broker-{round}.db"), useBroker: true));
}
double Median(List<double> v) { var s = v.Order().ToList(); return s[s.Count / 2]; }
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"| drain {events:N0} events | in-process ack (baseline) | {Median(inproc):N0} events/s | rounds {string.Join(" / ", inproc.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} |"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"| drain {events:N0} events | our MQTT client → Mosquitto → deduplicating subscriber | {Median(broker_):N0} events/s ({Median(broker_) / Median(inproc):F2}×) | rounds {string.Join(" / ", broker_.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} |"));
return 0;

async Task<double> DrainAsync(string db, bool useBroker)
{
    foreach (var f in new[] { db, db + "-wal", db + "-shm", db + ".reserve" }) File.Delete(f);
    await using var outbox = await TelemetryOutbox.OpenAsync(new OutboxOptions { DatabasePath = db, BudgetBytes = 512L * 1024 * 1024 });
    for (int i = 0; i < events; i++)
        await outbox.EnqueueAsync(new OutboxEvent(TelemetryStream.Telemetry,
            Encoding.UTF8.GetBytes($$"""{"model":"vib-cnn@1.4.2","label":"normal","score":0.{{9000 + i % 999}},"latencyUs":{{180 + i % 37}},"window":{{i}}}""")));
    await outbox.FlushAsync();

    long accepted = 0;
    var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    MqttClient? device = null, hub = null;
    ITelemetryTransport transport;
    if (useBroker)
    {
        var dedup = new TelemetryDeduplicator();
        hub = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", broker.Port), ClientId = "hub-" + Guid.NewGuid().ToString("N")[..8] });
        hub.MessageHandler = (m, _) =>
        {
            var batch = TelemetryBatchDecoder.Decode(m.Payload.Span);
            if (Interlocked.Add(ref accepted, dedup.Filter(batch).Accepted.Count) >= events) done.TrySetResult();
            return ValueTask.CompletedTask;
        };
        await hub.ConnectAsync();
        await hub.SubscribeAsync("edgeagent/v1/bench/#");
        device = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", broker.Port), ClientId = "bench" });
        await device.ConnectAsync();
        transport = new MqttTelemetryTransport(device);
    }
    else
    {
        transport = new AckAtOnce(n => { if (Interlocked.Add(ref accepted, n) >= events) done.TrySetResult(); });
    }

    using var stop = new CancellationTokenSource();
    var drainer = new OutboxDrainer(outbox, transport, new DrainerOptions { DeviceId = "bench", IdlePoll = TimeSpan.FromMilliseconds(20) });
    var sw = Stopwatch.StartNew();
    var run = drainer.RunAsync(stop.Token);
    await done.Task.WaitAsync(TimeSpan.FromMinutes(5));
    double rate = events / sw.Elapsed.TotalSeconds;
    stop.Cancel();
    try { await run; } catch (OperationCanceledException) { }
    if (device is not null) await device.DisposeAsync();
    if (hub is not null) await hub.DisposeAsync();
    return rate;
}

int Arg(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>Acknowledges every publish at once and counts the batch's events (decoding it, as the hub would).</summary>
sealed class AckAtOnce(Action<int> onEvents) : ITelemetryTransport
{
    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, string contentType, CancellationToken cancellationToken)
    {
        onEvents(TelemetryBatchDecoder.Decode(payload.Span).Events.Count);
        return ValueTask.CompletedTask;
    }
}
