using System.Collections.Concurrent;
using System.Text;
using EdgeAgent.Agent.Telemetry;
using EdgeAgent.Mqtt;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.Telemetry.Dedup;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Agent.Tests;

/// <summary>
/// Issue 4's outage test with the real pieces: SQLite outbox → drainer → our MQTT client → Mosquitto
/// (persistence on) → a hub-like subscriber with a persistent session running the shared dedup rule.
/// The broker is stopped under load and started again; every committed event must arrive exactly once
/// after dedup, in order per (stream, epoch).
/// </summary>
public sealed class TelemetryOutageTests : IAsyncLifetime
{
    private const string DeviceId = "press-17";
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeagent-outage-").FullName;
    private MosquittoBroker _broker = null!;

    public async Task InitializeAsync() => _broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { Persistence = true });

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

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

    [Fact]
    public async Task Every_committed_event_arrives_exactly_once_and_in_order_per_stream_across_a_broker_restart()
    {
        // The hub side: persistent session so the broker (with persistence) queues batches for it
        // while it reconnects after the restart.
        var dedup = new TelemetryDeduplicator();
        var received = new ConcurrentDictionary<(string Stream, int Epoch), List<long>>();
        var accepted = new ConcurrentDictionary<long, int>();
        int duplicates = 0;
        await using var hub = Client("hub-test", persistent: true);
        hub.MessageHandler = (message, _) =>
        {
            var batch = TelemetryBatchDecoder.Decode(message.Payload.Span);
            var result = dedup.Filter(batch);
            Interlocked.Add(ref duplicates, result.Duplicates);
            var list = received.GetOrAdd((batch.Stream, batch.Epoch), _ => []);
            lock (list)
                foreach (var e in result.Accepted)
                {
                    list.Add(e.Seq);
                    accepted.AddOrUpdate(e.Seq, 1, (_, n) => n + 1);
                }
            return ValueTask.CompletedTask;
        };
        await hub.ConnectAsync();
        await hub.SubscribeAsync($"edgeagent/v1/{DeviceId}/#");

        // The device side.
        await using var outbox = await TelemetryOutbox.OpenAsync(new OutboxOptions { DatabasePath = Path.Combine(_dir, "outbox.db") });
        await using var device = Client(DeviceId, persistent: false);
        await device.ConnectAsync();
        var drainer = new OutboxDrainer(outbox, new MqttTelemetryTransport(device), new DrainerOptions
        {
            DeviceId = DeviceId,
            MaxBatchEvents = 50,
            InitialRetryDelay = TimeSpan.FromMilliseconds(100),
            MaxRetryDelay = TimeSpan.FromMilliseconds(500),
            PublishTimeout = TimeSpan.FromSeconds(5),
            IdlePoll = TimeSpan.FromMilliseconds(50),
        });
        using var stop = new CancellationTokenSource();
        var draining = drainer.RunAsync(stop.Token);

        var committed = new ConcurrentBag<long>();
        async Task WriteAsync(int count, TelemetryStream stream)
        {
            for (int i = 0; i < count; i++)
            {
                var receipt = await outbox.AppendAsync(new OutboxEvent(stream, Encoding.UTF8.GetBytes($"{{\"i\":{i}}}")));
                Assert.True(receipt.Stored);
                committed.Add(receipt.Seq);
                if (i % 25 == 0) await Task.Delay(5);
            }
        }

        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var writing = Task.WhenAll(WriteAsync(1500, TelemetryStream.Telemetry), WriteAsync(300, TelemetryStream.Update));
        await Task.Delay(300);
        await _broker.StopAsync();          // outage under load: the drainer fails, keeps rows, backs off
        await Task.Delay(1500);
        await _broker.StartAgainAsync();    // same port, persistence restored: the hub's session survives
        await writing;

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (accepted.Count < committed.Count && DateTime.UtcNow < deadline) await Task.Delay(100);
        stop.Cancel();
        try { await draining; } catch (OperationCanceledException) { }

        Assert.Equal(committed.Count, accepted.Count);
        Assert.All(accepted, kv => Assert.Equal(1, kv.Value));
        Assert.Equal(committed.OrderBy(s => s), accepted.Keys.OrderBy(s => s));
        foreach (var (key, seqs) in received)
            Assert.True(seqs.Zip(seqs.Skip(1)).All(p => p.First < p.Second), $"{key} out of order");
        // Memory stays bounded through the outage: the backlog waits in SQLite, not in the process.
        long heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(heapAfter - heapBefore < 16 * 1024 * 1024, $"managed heap grew by {(heapAfter - heapBefore) / 1024} KiB");
    }
}
