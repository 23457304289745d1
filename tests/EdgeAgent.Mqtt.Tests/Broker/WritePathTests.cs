using System.Globalization;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Mqtt.Tests.Broker;

/// <summary>
/// The connection's write side: one flusher at a time, packets queued by the reader loop (the next
/// PUBLISH freed by a PUBACK) flushed by the reader itself, packets from other threads flushed on the
/// thread pool. These tests push both kinds of traffic at once against a real Mosquitto.
/// </summary>
public sealed class WritePathTests
{
    private static string Text(int i) => i.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task Publishes_from_many_threads_are_written_once_each_in_each_threads_order_within_the_window()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { MaxInflightMessages = 7 });
        var written = new List<PublishPacket>();
        var pub = new MqttClient(TestClient.Options(broker)) { PacketSentProbe = p => { if (p is PublishPacket pp) { lock (written) { written.Add(pp); } } } };
        await using var _p = pub;
        await pub.ConnectAsync();
        const int threads = 6, perThread = 400;

        // Each thread starts all its publishes without waiting, so PUBACKs stream in on the reader
        // (which writes the publishes they free) while the other threads keep queueing. No
        // subscriber: the broker acknowledges each with 0x10, a success code, whatever its queues do.
        var results = await Task.WhenAll(Enumerable.Range(0, threads).Select(t => Task.Run(() =>
            Task.WhenAll(Enumerable.Range(0, perThread).Select(i => pub.PublishAsync(TestClient.Message($"wp/{t}", Text(i))))))));

        Assert.All(results.SelectMany(r => r), r => Assert.Equal(MqttReasonCode.NoMatchingSubscribers, r.ReasonCode));
        Assert.Equal(0, pub.InflightCount);
        Assert.InRange(pub.Window.HighWaterMark, 1, 7);
        lock (written)
        {
            Assert.Equal(threads * perThread, written.Count);
            Assert.DoesNotContain(written, p => p.Dup);
            for (int t = 0; t < threads; t++)
            {
                // MQTT §4.6: written in call order, each once.
                Assert.Equal(Enumerable.Range(0, perThread).Select(Text), written.Where(p => p.Topic == $"wp/{t}").Select(p => System.Text.Encoding.UTF8.GetString(p.Payload.Span)));
            }
        }
    }

    [Fact]
    public async Task Disconnect_is_written_after_every_message_queued_before_it()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (sub, sink) = await TestClient.ConnectAsync(broker);
        var (pub, _) = await TestClient.ConnectAsync(broker);
        await using var _s = sub;
        await sub.SubscribeAsync("burst/#");
        const int count = 3000;

        // QoS 0 completes when queued; the DISCONNECT that follows must not overtake the queue.
        for (int i = 0; i < count; i++)
        {
            await pub.PublishAsync(TestClient.Message("burst/q0", Text(i), MqttQualityOfService.AtMostOnce));
        }

        await pub.DisconnectAsync();
        await pub.DisposeAsync();

        var got = await sink.TakeAsync(count);
        Assert.Equal(Enumerable.Range(0, count).Select(Text), got.Select(m => m.Text()));
    }

    [Fact]
    public async Task A_client_that_receives_its_own_qos1_stream_acknowledges_every_message_while_it_publishes()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        // Our Receive Maximum of 5: if our PUBACKs stopped flowing while we publish, the broker would
        // stop delivering after 5 and TakeAsync would time out.
        var (client, sink) = await TestClient.ConnectAsync(TestClient.Options(broker) with { ReceiveMaximum = 5 });
        await using var _c = client;
        await client.SubscribeAsync("loop/#");
        const int count = 600;

        // One publish at a time: Mosquitto 2.0.11 drops QoS 1 messages for a subscriber that falls
        // behind a burst (the publisher then gets 0x10), which is not what this test is about.
        var results = new List<MqttPublishResult>();
        for (int i = 0; i < count; i++)
        {
            results.Add(await client.PublishAsync(TestClient.Message("loop/a", Text(i))));
        }

        Assert.All(results, r => Assert.Equal(MqttReasonCode.Success, r.ReasonCode));
        var got = await sink.TakeAsync(count);
        Assert.Equal(Enumerable.Range(0, count).Select(Text), got.Select(m => m.Text()));
        Assert.Equal(0, client.InflightCount);
    }

    [Fact]
    public async Task A_handler_that_publishes_is_not_starved_while_the_inbound_queue_is_full()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        // Small Receive Maximum: the inbound queue holds ReceiveMaximum + 1,024 messages, so a QoS 0
        // flood fills it while the handler is busy and the reader waits for room. MaxInflight 1: every
        // PUBACK frees the slot for a waiting publish, which the reader queues and owes a flush for;
        // the reader writes it before it waits, so neither those publishes nor the handler's own QoS 0
        // publishes (flushed by the same owner) wait for the reader. The test checks that everything
        // keeps moving under this mix; the interleaving itself is up to the scheduler.
        // (A handler that awaits a QoS 1 PUBACK during such a flood cannot be served: the reader
        // that would read the PUBACK is waiting for the handler. Inbound QoS 1 never fills the queue,
        // the broker honours our Receive Maximum.)
        var options = TestClient.Options(broker) with { ReceiveMaximum = 1, MaxInflight = 1 };
        var client = new MqttClient(options);
        await using var _c = client;
        var endSeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.MessageHandler = async (message, ct) =>
        {
            await client.PublishAsync(TestClient.Message("out/echo", "x", MqttQualityOfService.AtMostOnce), ct);
            await client.PublishAsync(TestClient.Message("out/echo", "y", MqttQualityOfService.AtMostOnce), ct);
            if (message.Topic == "in/end")
            {
                endSeen.TrySetResult();
            }
        };
        await client.ConnectAsync();
        await client.SubscribeAsync("in/#", MqttQualityOfService.AtMostOnce);
        var (flooder, _) = await TestClient.ConnectAsync(broker);
        await using var _f = flooder;

        Task background = Task.WhenAll(Enumerable.Range(0, 2000).Select(i => client.PublishAsync(TestClient.Message("out/bg", Text(i)))));
        for (int i = 0; i < 5000; i++)
        {
            await flooder.PublishAsync(TestClient.Message("in/a", Text(i), MqttQualityOfService.AtMostOnce));
        }

        await flooder.PublishAsync(TestClient.Message("in/end", "end", MqttQualityOfService.AtMostOnce));

        await endSeen.Task.WaitAsync(TimeSpan.FromSeconds(60));
        await background.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, client.InflightCount);
    }
}
