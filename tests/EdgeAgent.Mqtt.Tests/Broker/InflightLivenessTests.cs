using System.Collections.Concurrent;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Mqtt.Tests.Broker;

/// <summary>
/// Receiving keeps going past Receive Maximum: while the client publishes QoS 1 itself (the hub's end-to-end
/// acks), and after handler failures have used up the broker's in-flight window (the cause of the "QoS 1 ack
/// stall" in docs/bench/outbox.md (c): the bench's hub consumed its own acks and refused them).
/// </summary>
public sealed class InflightLivenessTests
{
    [Fact]
    public async Task A_client_publishing_QoS_1_from_its_handler_keeps_receiving_far_beyond_its_receive_maximum()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (watcher, acks) = await TestClient.ConnectAsync(broker);
        await using var _w = watcher;
        await watcher.SubscribeAsync("flow/out");

        var hub = new MqttClient(TestClient.Options(broker, "qos1-from-handler") with { ReceiveMaximum = 20, CleanStart = false, SessionExpiryInterval = 600 });
        await using var _h = hub;
        var published = new ConcurrentQueue<Task<MqttPublishResult>>();
        int received = 0;
        hub.MessageHandler = (m, _) =>
        {
            Interlocked.Increment(ref received);
            // Like MqttHubConsumer.PublishAck: QoS 1, not awaited on the receive path.
            published.Enqueue(hub.PublishAsync(TestClient.Message("flow/out", "ack-" + m.Text())));
            return ValueTask.CompletedTask;
        };
        await hub.ConnectAsync();
        await hub.SubscribeAsync("flow/in");

        const int Count = 1000;
        var (device, _) = await TestClient.ConnectAsync(broker);
        await using (device)
        {
            await Task.WhenAll(Enumerable.Range(0, Count).Select(i => device.PublishAsync(TestClient.Message("flow/in", $"m{i}"))));
        }

        var echoed = await acks.TakeAsync(Count);
        Assert.Equal(Count, Volatile.Read(ref received));
        Assert.Equal(Enumerable.Range(0, Count).Select(i => $"ack-m{i}"), echoed.Select(m => m.Text()));
        await Task.WhenAll(published).WaitAsync(TestClient.Patience);
        Assert.Equal(0, hub.InflightCount);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task Refused_messages_that_fill_the_in_flight_window_make_the_client_resume_its_session_instead_of_stalling(MqttProtocolVersion version)
    {
        // Mosquitto's window towards a subscriber is the smaller of our Receive Maximum and its max_inflight_messages (20).
        await using var broker = await MosquittoBroker.StartAsync();
        const int Window = 20;
        var options = TestClient.Options(broker, "refusals-" + (int)version, version) with
        {
            ReceiveMaximum = Window,
            CleanStart = false,
            SessionExpiryInterval = 600,
        };
        var client = new MqttClient(options);
        await using var _c = client;
        var seen = new ConcurrentDictionary<string, int>();
        var good = new ConcurrentQueue<string>();
        var redelivered = new ConcurrentQueue<string>();
        int failures = 0;
        client.MessageHandlerFailed += (_, _) => Interlocked.Increment(ref failures);
        client.MessageHandler = (m, _) =>
        {
            string text = m.Text();
            if (text.StartsWith("bad", StringComparison.Ordinal))
            {
                // The application cannot store these yet (its first attempt fails), a retry later succeeds.
                if (seen.AddOrUpdate(text, 1, (_, n) => n + 1) == 1)
                {
                    throw new IOException("store unavailable for " + text);
                }

                redelivered.Enqueue(text);
                return ValueTask.CompletedTask;
            }

            good.Enqueue(text);
            return ValueTask.CompletedTask;
        };
        await client.ConnectAsync();
        await client.SubscribeAsync("refuse/t");

        var (pub, _) = await TestClient.ConnectAsync(broker);
        await using (pub)
        {
            for (int i = 0; i < Window; i++)
            {
                await pub.PublishAsync(TestClient.Message("refuse/t", $"bad{i:D2}"));
            }

            for (int i = 0; i < 5; i++)
            {
                await pub.PublishAsync(TestClient.Message("refuse/t", $"good{i}"));
            }
        }

        // Without the resume the broker has no slot left for the good messages and nothing is ever redelivered.
        using var cts = new CancellationTokenSource(TestClient.Patience);
        while (good.Distinct().Count() < 5 || redelivered.Distinct().Count() < Window)
        {
            await Task.Delay(20, cts.Token);
        }

        // At least once: a message already queued from the dropped connection may come twice (its ack had nowhere to go).
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"good{i}"), good.Distinct());
        Assert.Equal(Enumerable.Range(0, Window).Select(i => $"bad{i:D2}"), redelivered.Distinct().Order());
        Assert.Equal(Window, Volatile.Read(ref failures));
        Assert.True(client.ConnectResult!.SessionPresent);
    }
}
