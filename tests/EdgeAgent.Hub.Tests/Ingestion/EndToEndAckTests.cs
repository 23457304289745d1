using System.Collections.Concurrent;
using System.Text;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Telemetry.Acks;
using EdgeAgent.Telemetry.Wire;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Hub.Tests.Ingestion;

/// <summary>The hub acknowledges stored batches to the device on edgeagent/v1/{id}/ack (docs/CHAOS.md bug 3).</summary>
public sealed class EndToEndAckTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 20, 8, 0, 0, TimeSpan.Zero);
    private const string Boot = "0123456789abcdef0123456789abcdef";
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
        new(seq, T0.AddSeconds(seq), 0, TelemetryEventKind.Data, Encoding.UTF8.GetBytes($$"""{"model":"vib","score":{{seq}}}"""), true);

    [Fact]
    public async Task A_stored_batch_and_its_duplicate_are_each_acknowledged_and_a_parked_one_is_not()
    {
        var acks = new ConcurrentQueue<TelemetryAck>();
        var ignored = new ConcurrentQueue<string>();
        await using var device = new MqttClient(new MqttClientOptions { Endpoint = MqttEndpoint.Tcp("127.0.0.1", _broker.Port), ClientId = "dev-ack-1", KeepAlive = TimeSpan.FromSeconds(5) });
        device.MessageHandler = (m, _) =>
        {
            if (TelemetryAckCodec.TryDecode(m.Payload.Span, out var ack, out var why)) acks.Enqueue(ack!);
            else ignored.Enqueue(why!.Message);
            return ValueTask.CompletedTask;
        };
        await device.ConnectAsync();
        await device.SubscribeAsync(TelemetryStreams.AckTopic("ack-1"));
        var batch = new TelemetryBatchEncoder().Encode("ack-1", TelemetryStream.Telemetry, Boot, [Data(3), Data(4), Data(7)], T0, epoch: 2);
        var message = new MqttApplicationMessage { Topic = TelemetryStreams.Topic("ack-1", TelemetryStream.Telemetry), Payload = batch.Payload, ContentType = batch.ContentType };

        await device.PublishAsync(message);
        await WaitAsync(() => acks.Count == 1);
        await device.PublishAsync(message); // a resend (e.g. after the ack timeout): duplicates, acknowledged again
        await WaitAsync(() => acks.Count == 2);
        await device.PublishAsync(message with { Payload = Encoding.UTF8.GetBytes("{\"schema\":\"nope\"}") }); // parked, never stored
        var parkedMarker = new TelemetryBatchEncoder().Encode("ack-1", TelemetryStream.Update, Boot, [Data(9)], T0, epoch: 2);
        await device.PublishAsync(new MqttApplicationMessage { Topic = TelemetryStreams.Topic("ack-1", TelemetryStream.Update), Payload = parkedMarker.Payload, ContentType = parkedMarker.ContentType });
        await WaitAsync(() => acks.Count == 3); // the update batch after the parked one is acked; the parked one was not

        Assert.All(acks, a => Assert.Equal((Boot, 2), (a.BootId, a.Epoch)));
        Assert.Equal([("telemetry", 3L, 7L), ("telemetry", 3L, 7L), ("update", 9L, 9L)], acks.Select(a => (a.Stream, a.Ranges[0][0], a.Ranges[0][1])).Take(2).Append((acks.Last().Stream, acks.Last().Ranges[0][0], acks.Last().Ranges[0][1])));
        Assert.Empty(ignored);
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("no ack from the hub");
            await Task.Delay(20);
        }
    }
}
