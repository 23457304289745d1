using System.Collections.Concurrent;
using System.Text;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Telemetry.Acks;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Hub.Tests.Ingestion;

/// <summary>
/// Batched ingest through a real Mosquitto into the real hub: messages that queue up while the store is away are
/// stored together once it is back, each exactly once, and each gets its end-to-end ack only after the commit.
/// </summary>
public sealed class MqttBatchIngestionTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);
    private MosquittoBroker _broker = null!;
    private RunningHub _hub = null!;

    public async Task InitializeAsync()
    {
        _broker = await MosquittoBroker.StartAsync();
        _hub = await RunningHub.StartAsync("127.0.0.1", _broker.Port);
        await _hub.Mqtt.Subscribed.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async Task DisposeAsync()
    {
        await _hub.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private static WireEvent Data(long seq) =>
        new(seq, T0.AddSeconds(seq), 0, TelemetryEventKind.Data, Encoding.UTF8.GetBytes($$"""{"score":{{seq}}}"""), true);

    private async Task<MqttClient> DeviceAsync(string id, ConcurrentQueue<TelemetryAck> acks)
    {
        var device = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", _broker.Port), ClientId = "dev-" + id });
        device.MessageHandler = (m, ct) =>
        {
            if (TelemetryAckCodec.TryDecode(m.Payload.Span, out var ack, out AckRejection? _)) acks.Enqueue(ack!);
            return ValueTask.CompletedTask;
        };
        await device.ConnectAsync();
        await device.SubscribeAsync(TelemetryStreams.AckTopic(id));
        return device;
    }

    [Fact]
    public async Task Messages_queued_while_the_store_fails_are_stored_together_once_it_is_back_each_once_and_each_acknowledged_after_the_commit()
    {
        var store = (SqlHubStore)_hub.Store;
        string boot = new('5', 32);
        var acksA = new ConcurrentQueue<TelemetryAck>();
        var acksB = new ConcurrentQueue<TelemetryAck>();
        await using var a = await DeviceAsync("line-a", acksA);
        await using var b = await DeviceAsync("line-b", acksB);

        // Injected fault: every insert of events fails, so the hub keeps retrying the first batch while the rest queue up.
        await store.ExecuteRawForTestsAsync("ALTER TABLE telemetry_events RENAME TO telemetry_events_away");
        var encoder = new TelemetryBatchEncoder();
        for (int i = 1; i <= 8; i++)
        {
            // Like the fleet: one event per message, two devices interleaved, a malformed message and a resend in between.
            foreach (var (device, id) in new[] { (a, "line-a"), (b, "line-b") })
            {
                var batch = encoder.Encode(id, TelemetryStream.Telemetry, boot, [Data(i)], T0);
                await device.PublishAsync(new MqttApplicationMessage { Topic = TelemetryStreams.Topic(id, TelemetryStream.Telemetry), Payload = batch.Payload });
            }
            if (i == 4) await a.PublishAsync(new MqttApplicationMessage { Topic = "edgeagent/v1/line-a/telemetry", Payload = "{broken"u8.ToArray() });
            if (i == 6)
            {
                var resend = encoder.Encode("line-b", TelemetryStream.Telemetry, boot, [Data(5)], T0);
                await b.PublishAsync(new MqttApplicationMessage { Topic = "edgeagent/v1/line-b/telemetry", Payload = resend.Payload });
            }
        }
        await Task.Delay(1500); // the broker hands the queued messages over; the hub retries its first batch meanwhile
        Assert.Empty(acksA);     // nothing acknowledged end to end while nothing is stored
        Assert.Empty(acksB);
        Assert.Empty(await _hub.Store.ListRejectedMessagesAsync(10)); // the malformed one is parked with its batch, not before

        await store.ExecuteRawForTestsAsync("ALTER TABLE telemetry_events_away RENAME TO telemetry_events");
        await Eventually.ValueAsync(() => Task.FromResult(acksA.Count + acksB.Count), n => n >= 17, "17 end-to-end acks");
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), (await _hub.Store.ListEventsAsync("line-a", 100)).Select(e => e.Seq));
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), (await _hub.Store.ListEventsAsync("line-b", 100)).Select(e => e.Seq));
        Assert.Contains("not valid batch JSON", Assert.Single(await _hub.Store.ListRejectedMessagesAsync(10)).Reason);

        // One ack per stored message, in publish order per device; the resend of seq 5 is acknowledged again.
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), acksA.Select(x => x.Ranges[0][0]));
        Assert.Equal([1L, 2L, 3L, 4L, 5L, 6L, 5L, 7L, 8L], acksB.Select(x => x.Ranges[0][0]));
        Assert.True(_hub.Mqtt.LargestBatch > 1, $"messages queued behind the failing store should arrive as one batch (largest {_hub.Mqtt.LargestBatch})");
        Assert.Equal(17L + 1, _hub.Mqtt.Messages); // 16 events + 1 resend + 1 malformed, each handed over once
    }
}
