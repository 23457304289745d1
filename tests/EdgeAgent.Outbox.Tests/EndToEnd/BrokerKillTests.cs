using System.Collections.Concurrent;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Outbox.Tests.Support;
using EdgeAgent.Telemetry.Acks;
using EdgeAgent.Telemetry.Dedup;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Outbox.Tests.EndToEnd;

/// <summary>
/// docs/CHAOS.md product bug 3 with the real pieces: SQLite outbox → drainer → our MQTT client →
/// Mosquitto (persistence on, default autosave, so a SIGKILL loses everything since start) → a
/// hub-like subscriber (persistent session, the shared dedup rule, an in-memory "store") that
/// publishes the end-to-end ack after storing. The hub is away while the device drains (the broker
/// PUBACKs and queues for it), then the broker is SIGKILLed and restarted.
/// </summary>
public sealed class BrokerKillTests : IAsyncLifetime
{
    private const string DeviceId = "press-17";
    private MosquittoBroker _broker = null!;

    public async Task InitializeAsync() => _broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { Persistence = true });

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task With_hub_acks_every_event_reaches_the_hub_exactly_once_across_a_broker_SIGKILL()
    {
        var run = await RunScenario(hubAck: true);

        Assert.Equal(run.Committed, run.Stored.Keys.Order());                 // nothing lost ...
        Assert.All(run.Stored, kv => Assert.Equal(1, kv.Value));               // ... and stored once each
        Assert.True(run.ArrivedOnlyAfterRestart > 0, "the events sent while the hub was away must reach it only after the restart");
        Assert.Equal(0, run.PendingAtEnd);                                     // the hub's acks emptied the outbox
        Assert.True(run.Statistics.RequeuedEvents >= run.ArrivedOnlyAfterRestart, $"requeued {run.Statistics.RequeuedEvents}");
    }

    [Fact]
    public async Task Without_hub_acks_the_same_SIGKILL_loses_what_the_broker_had_acknowledged()
    {
        // The control: delete-on-PUBACK (AwaitHubAck = false) under the identical scenario.
        var run = await RunScenario(hubAck: false);

        var lost = run.Committed.Except(run.Stored.Keys).Count();
        Assert.True(lost > 0, "delete on PUBACK lost nothing: the scenario did not reproduce CHAOS.md bug 3");
        Assert.Equal(0, run.PendingAtEnd); // the device believes it delivered everything
    }

    private static string Describe(TelemetryOutbox outbox, ConcurrentDictionary<long, int> stored)
    {
        var s = outbox.GetStatistics();
        return $"stored {stored.Count}, pending {s.PendingEvents.Values.Sum()}, awaiting {s.AwaitingAckEvents.Values.Sum()}, hub acks {s.HubAcks} " +
            $"({s.HubAckedEvents} events), ignored [{string.Join(", ", s.IgnoredAcks.Select(kv => $"{kv.Key}={kv.Value}"))}], requeued {s.RequeuedEvents}";
    }

    private sealed record Outcome(List<long> Committed, ConcurrentDictionary<long, int> Stored, int ArrivedOnlyAfterRestart, long PendingAtEnd, OutboxStatistics Statistics);

    private MqttClient Client(string id, bool persistent) => new(new MqttClientOptions
    {
        Endpoint = MqttEndpoint.Tcp("127.0.0.1", _broker.Port),
        ClientId = id,
        CleanStart = !persistent,
        SessionExpiryInterval = persistent ? 3600u : 0u,
        KeepAlive = TimeSpan.FromSeconds(5),
        ReconnectMinDelay = TimeSpan.FromMilliseconds(100),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
    });

    /// <summary>A hub: stores each accepted event (the dedup rule), then acks the batch to the device.</summary>
    private sealed class Hub(MqttClient client, TelemetryDeduplicator dedup, ConcurrentDictionary<long, int> stored) : IAsyncDisposable
    {
        public MqttClient Client { get; } = client;

        public static async Task<Hub> ConnectAsync(MqttClient client, TelemetryDeduplicator dedup, ConcurrentDictionary<long, int> stored)
        {
            var hub = new Hub(client, dedup, stored);
            client.MessageHandler = hub.OnMessageAsync;
            await client.ConnectAsync();
            // Subscribe after every connect, session present or not (CHAOS.md bug 3: a restored
            // session may lack its subscription).
            await client.SubscribeAsync("edgeagent/v1/+/telemetry");
            return hub;
        }

        private ValueTask OnMessageAsync(MqttApplicationMessage message, CancellationToken ct)
        {
            var batch = TelemetryBatchDecoder.Decode(message.Payload.Span);
            lock (dedup)
                foreach (var e in dedup.Filter(batch).Accepted) stored.AddOrUpdate(e.Seq, 1, (_, n) => n + 1);
            // Stored (in memory here; a real hub after its commit): tell the device. Not awaited in
            // the handler, which runs on the client's receive path; a lost ack only means a resend.
            _ = Client.PublishAsync(new MqttApplicationMessage
            {
                Topic = TelemetryStreams.AckTopic(batch.DeviceId),
                Payload = TelemetryAckCodec.Encode(TelemetryAckCodec.ForBatch(batch)),
                QoS = MqttQualityOfService.AtLeastOnce,
            }, CancellationToken.None);
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync() => Client.DisposeAsync();
    }

    private sealed class MqttTransport(MqttClient client) : ITelemetryTransport
    {
        public async ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, string contentType, CancellationToken cancellationToken) =>
            await client.PublishAsync(new MqttApplicationMessage { Topic = topic, Payload = payload, QoS = MqttQualityOfService.AtLeastOnce, ContentType = contentType }, cancellationToken);
    }

    private async Task<Outcome> RunScenario(bool hubAck)
    {
        using var dir = new TempDirectory();
        var dedup = new TelemetryDeduplicator();
        var stored = new ConcurrentDictionary<long, int>();
        var hub = await Hub.ConnectAsync(Client("hub-e2e", persistent: true), dedup, stored);

        await using var outbox = await TelemetryOutbox.OpenAsync(Events.Options(dir.File("o.db")));
        await using var device = Client(DeviceId, persistent: false);
        device.MessageHandler = async (message, ct) => await outbox.AcknowledgeMessageAsync(message.Payload, ct);
        var connects = 0;
        device.ConnectionStateChanged += (_, e) =>
        {
            if (e.State != MqttConnectionState.Connected || Interlocked.Increment(ref connects) == 1) return;
            // Reconnected: a clean session needs its ack subscription again, and what awaited the
            // hub's ack may be gone with the broker, so it goes again (what the agent service does).
            outbox.RequeueAwaitingAck();
            _ = device.SubscribeAsync(TelemetryStreams.AckTopic(DeviceId));
        };
        await device.ConnectAsync();
        await device.SubscribeAsync(TelemetryStreams.AckTopic(DeviceId));
        var drainer = new OutboxDrainer(outbox, new MqttTransport(device), new DrainerOptions
        {
            DeviceId = DeviceId,
            MaxBatchEvents = 50,
            AwaitHubAck = hubAck,
            AckTimeout = TimeSpan.FromSeconds(10),
            MaxAwaitingBatches = 64,
            InitialRetryDelay = TimeSpan.FromMilliseconds(100),
            MaxRetryDelay = TimeSpan.FromMilliseconds(500),
            PublishTimeout = TimeSpan.FromSeconds(5),
            IdlePoll = TimeSpan.FromMilliseconds(50),
        });
        using var stop = new CancellationTokenSource();
        var draining = drainer.RunAsync(stop.Token);
        var committed = new List<long>();
        async Task AppendAsync(int from, int count)
        {
            for (var i = from; i < from + count; i++) committed.Add((await outbox.AppendAsync(Events.Telemetry(i))).Seq);
        }

        // 1. Normal operation: stored at the hub, acked, gone from the device.
        await AppendAsync(0, 300);
        await Wait.UntilAsync(() => stored.Count == 300 && outbox.GetStatistics().PendingEvents.Values.Sum() == 0, "first 300 stored and acked", 30)
            .ContinueWith(t => t.IsFaulted ? throw new TimeoutException(Describe(outbox, stored) + " " + drainer.Statistics + " drainer " + draining.Status + " " + draining.Exception + " device " + device.State, t.Exception) : t, TaskScheduler.Default).Unwrap();

        // 2. The hub goes away (session kept): the broker PUBACKs the device's batches and queues them for it.
        await hub.Client.DisconnectAsync();
        await hub.DisposeAsync();
        await AppendAsync(300, 600);
        await Wait.UntilAsync(() => drainer.Statistics.PublishedEvents >= 900, "second 600 PUBACKed by the broker");
        var beforeKill = stored.Keys.ToHashSet();

        // 3. SIGKILL: Mosquitto restarts from its last autosave (none yet), so the queue is gone.
        await _broker.KillAsync();
        await _broker.StartAgainAsync();
        hub = await Hub.ConnectAsync(Client("hub-e2e", persistent: true), dedup, stored);

        await Wait.UntilAsync(() => outbox.GetStatistics().PendingEvents.Values.Sum() == 0 && device.State == MqttConnectionState.Connected,
            "device reconnected and idle");
        if (hubAck) await Wait.UntilAsync(() => stored.Count == 900, "every event stored at the hub");
        else await Task.Delay(1000); // whatever the broker still had would have arrived by now
        await stop.CancelAsync();
        await draining;
        var stats = outbox.GetStatistics();
        var pending = stats.PendingEvents.Values.Sum();
        await hub.DisposeAsync();
        return new Outcome(committed, stored, stored.Keys.Count(k => !beforeKill.Contains(k) && k > 300), pending, stats);
    }
}
