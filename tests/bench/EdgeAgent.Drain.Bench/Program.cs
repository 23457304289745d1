// Drain rate to a real broker (issue 4 (b), target ≥ 20,000 events/s in batches):
//   dotnet run -c Release --project tests/bench/EdgeAgent.Drain.Bench [-- --events N --rounds R]
// Each round fills a fresh outbox (FULL) with N telemetry events while offline, then starts the drainer
// over our MQTT client to Mosquitto on loopback and times until a subscriber running the hub's dedup
// rule has accepted all N. Baseline in the same round: the same drain into a transport that
// acknowledges at once (no broker), i.e. the outbox's own read/encode/delete cost.
// End-to-end ack (docs/CHAOS.md bug 3) in the same round: both drains again with DrainerOptions.AwaitHubAck,
// the "hub" acking each batch after its dedup (in-process: AcknowledgeAsync from the transport; broker: an
// edgeagent.ack/1 message over Mosquitto to the device, wired with MqttTelemetryTransport.AttachAcks).
// Timed until the hub accepted all N and the device's outbox is empty (rows deleted on PUBACK, or on ack).
using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeAgent.Agent.Telemetry;
using EdgeAgent.Mqtt;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Telemetry.Acks;
using EdgeAgent.Telemetry.Dedup;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.TestSupport.Mosquitto;

int events = Arg("--events", 100_000), rounds = Arg("--rounds", 3);
// --ack-qos 0 or 1 (default 1, as MqttHubConsumer publishes them); the former QoS 1 stall was this bench's own
// subscription (see below), not the client.
var ackQos = Arg("--ack-qos", 1) == 0 ? MqttQualityOfService.AtMostOnce : MqttQualityOfService.AtLeastOnce;
string root = Path.Combine(Path.GetTempPath(), "edgeagent-drain-bench");
Directory.CreateDirectory(root);
await using var broker = await MosquittoBroker.StartAsync();
var broker_ = new List<double>();
var inproc = new List<double>();
var brokerAck = new List<double>();
var inprocAck = new List<double>();
for (int round = 0; round < rounds; round++)
{
    inproc.Add(await DrainAsync(Path.Combine(root, $"inproc-{round}.db"), useBroker: false, hubAck: false));
    inprocAck.Add(await DrainAsync(Path.Combine(root, $"inproc-ack-{round}.db"), useBroker: false, hubAck: true));
    broker_.Add(await DrainAsync(Path.Combine(root, $"broker-{round}.db"), useBroker: true, hubAck: false));
    brokerAck.Add(await DrainAsync(Path.Combine(root, $"broker-ack-{round}.db"), useBroker: true, hubAck: true));
}
double Median(List<double> v) { var s = v.Order().ToList(); return s[s.Count / 2]; }
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"| drain {events:N0} events | in-process ack (baseline) | {Median(inproc):N0} events/s | rounds {string.Join(" / ", inproc.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} |"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"| drain {events:N0} events | our MQTT client → Mosquitto → deduplicating subscriber | {Median(broker_):N0} events/s ({Median(broker_) / Median(inproc):F2}×) | rounds {string.Join(" / ", broker_.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} |"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"| drain {events:N0} events | in-process, delete on end-to-end ack | {Median(inprocAck):N0} events/s ({Median(inprocAck) / Median(inproc):F2}× in-process PUBACK) | rounds {string.Join(" / ", inprocAck.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} |"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"| drain {events:N0} events | Mosquitto, hub acks over MQTT, delete on ack | {Median(brokerAck):N0} events/s ({Median(brokerAck) / Median(broker_):F2}× Mosquitto PUBACK) | rounds {string.Join(" / ", brokerAck.Select(r => r.ToString("N0", CultureInfo.InvariantCulture)))} |"));
return 0;

async Task<double> DrainAsync(string db, bool useBroker, bool hubAck)
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
    var ackQueue = System.Threading.Channels.Channel.CreateUnbounded<TelemetryAck>();
    Task? ackSender = null;
    ITelemetryTransport transport;
    if (useBroker)
    {
        var dedup = new TelemetryDeduplicator();
        hub = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", broker.Port), ClientId = "hub-" + Guid.NewGuid().ToString("N")[..8] });
        var hubClient = hub;
        hub.MessageHandler = (m, ct) =>
        {
            var batch = TelemetryBatchDecoder.Decode(m.Payload.Span);
            if (Interlocked.Add(ref accepted, dedup.Filter(batch).Accepted.Count) >= events) done.TrySetResult();
            // Like MqttHubConsumer after its store commit: handed to a sender task, not published on the receive path.
            if (hubAck) ackQueue.Writer.TryWrite(TelemetryAckCodec.ForBatch(batch));
            return ValueTask.CompletedTask;
        };
        await hub.ConnectAsync();
        // The device's stream topics only, as MqttHubConsumer subscribes. Not edgeagent/v1/bench/#: that also
        // matches the ack topic, so the hub received its own acks, its handler threw on them (not a telemetry
        // batch) and, at QoS 1, each one stayed unacknowledged for good; after Receive Maximum (100) of them
        // Mosquitto sent the hub nothing more — the "QoS 1 ack stall" of docs/bench/outbox.md (c).
        await hub.SubscribeAsync("edgeagent/v1/bench/telemetry");
        ackSender = Task.Run(async () =>
        {
            await foreach (var ack in ackQueue.Reader.ReadAllAsync())
            {
                await hubClient.PublishAsync(new MqttApplicationMessage
                {
                    Topic = TelemetryStreams.AckTopic("bench"),
                    Payload = TelemetryAckCodec.Encode(ack),
                    QoS = ackQos,
                });
            }
        });
        device = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", broker.Port), ClientId = "bench" });
        if (hubAck) MqttTelemetryTransport.AttachAcks(device, "bench", outbox);
        await device.ConnectAsync();
        transport = new MqttTelemetryTransport(device);
    }
    else
    {
        transport = new AckAtOnce(hubAck ? outbox : null, n => { if (Interlocked.Add(ref accepted, n) >= events) done.TrySetResult(); });
    }

    using var stop = new CancellationTokenSource();
    var drainer = new OutboxDrainer(outbox, transport, new DrainerOptions { DeviceId = "bench", IdlePoll = TimeSpan.FromMilliseconds(20), AwaitHubAck = hubAck });
    var sw = Stopwatch.StartNew();
    var run = drainer.RunAsync(stop.Token);
    try
    {
        await done.Task.WaitAsync(TimeSpan.FromMinutes(2));
    }
    catch (TimeoutException)
    {
        var st = outbox.GetStatistics();
        throw new TimeoutException($"hub accepted {Interlocked.Read(ref accepted)} of {events}: pending {st.PendingEvents.Values.Sum()}, awaiting {st.AwaitingAckEvents.Values.Sum()}, hub acks {st.HubAcks}, requeued {st.RequeuedEvents}, drainer {drainer.Statistics}");
    }
    // The device is done when its rows are gone, not when the hub has them: polled only from here on,
    // so the COUNT does not compete with the drain itself (see docs/bench/outbox.md (b)).
    var limit = Stopwatch.StartNew();
    while (outbox.GetStatistics().PendingEvents.Values.Sum() > 0)
    {
        if (limit.Elapsed > TimeSpan.FromMinutes(2))
        {
            var st = outbox.GetStatistics();
            throw new TimeoutException($"outbox not empty: pending {st.PendingEvents.Values.Sum()}, awaiting {st.AwaitingAckEvents.Values.Sum()}, hub acks {st.HubAcks}, requeued {st.RequeuedEvents}, ignored [{string.Join(",", st.IgnoredAcks)}]");
        }
        await Task.Delay(10);
    }
    double rate = events / sw.Elapsed.TotalSeconds;
    stop.Cancel();
    try { await run; } catch (OperationCanceledException) { }
    ackQueue.Writer.TryComplete();
    if (ackSender is not null) await ackSender;
    if (device is not null) await device.DisposeAsync();
    if (hub is not null) await hub.DisposeAsync();
    return rate;
}

int Arg(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>Acknowledges every publish at once and counts the batch's events (decoding it, as the hub would); with an outbox, also sends the hub's end-to-end ack to it (asynchronously, like a hub).</summary>
sealed class AckAtOnce(TelemetryOutbox? hubAckTo, Action<int> onEvents) : ITelemetryTransport
{
    public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, string contentType, CancellationToken cancellationToken)
    {
        var batch = TelemetryBatchDecoder.Decode(payload.Span);
        onEvents(batch.Events.Count);
        if (hubAckTo is { } outbox) _ = Task.Run(() => outbox.AcknowledgeAsync(TelemetryAckCodec.ForBatch(batch)));
        return ValueTask.CompletedTask;
    }
}
