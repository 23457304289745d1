using EdgeAgent.Mqtt.Packets;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Mqtt.Tests.Broker;

public sealed class SessionTests
{
    [Fact]
    public async Task Inflight_publishes_never_exceed_the_brokers_receive_maximum()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { MaxInflightMessages = 5 });
        var (sub, sink) = await TestClient.ConnectAsync(broker);
        var (pub, _) = await TestClient.ConnectAsync(broker);
        await using var _s = sub;
        await using var _p = pub;
        Assert.Equal(5, pub.ConnectResult!.ReceiveMaximum);
        await sub.SubscribeAsync("fc/#");

        const int count = 300;
        var results = await Task.WhenAll(Enumerable.Range(0, count).Select(i => pub.PublishAsync(TestClient.Message("fc/t", i.ToString(System.Globalization.CultureInfo.InvariantCulture)))));
        Assert.All(results, r => Assert.Equal(MqttReasonCode.Success, r.ReasonCode));
        Assert.Equal(5, pub.Window.HighWaterMark);
        Assert.Equal(0, pub.InflightCount);
        var got = await sink.TakeAsync(count);
        // MQTT §4.6: QoS 1 messages on one topic arrive in publish order.
        Assert.Equal(Enumerable.Range(0, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), got.Select(m => m.Text()));
    }

    [Fact]
    public async Task Silent_broker_is_detected_by_keepalive_and_the_client_reconnects_when_it_answers_again()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var options = TestClient.Options(broker) with { KeepAlive = TimeSpan.FromSeconds(1) };
        var client = new MqttClient(options);
        await using var _c = client;
        var reasons = new List<Exception?>();
        client.ConnectionStateChanged += (_, e) =>
        {
            if (e.State == MqttConnectionState.Reconnecting)
            {
                lock (reasons)
                {
                    reasons.Add(e.Reason);
                }
            }
        };
        await client.ConnectAsync();

        broker.Pause();
        try
        {
            await client.WaitForStateAsync(MqttConnectionState.Reconnecting);
        }
        finally
        {
            broker.Resume();
        }

        lock (reasons)
        {
            Assert.IsType<MqttKeepAliveTimeoutException>(reasons[0]);
        }

        await client.WaitForStateAsync(MqttConnectionState.Connected);
    }

    [Fact]
    public async Task Will_is_published_when_the_client_vanishes_without_disconnect()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (watcher, sink) = await TestClient.ConnectAsync(broker);
        await using var _w = watcher;
        await watcher.SubscribeAsync("edgeagent/v1/+/status");

        var options = TestClient.Options(broker) with
        {
            AutoReconnect = false,
            Will = new MqttApplicationMessage
            {
                Topic = "edgeagent/v1/dev-will/status",
                Payload = "{\"online\":false}"u8.ToArray(),
                QoS = MqttQualityOfService.AtLeastOnce,
                ContentType = "application/json",
                UserProperties = [new("reason", "will")],
            },
        };
        var (device, _) = await TestClient.ConnectAsync(options);
        await using var _d = device;
        device.AbortConnection();

        MqttApplicationMessage will = await sink.NextAsync();
        Assert.Equal("edgeagent/v1/dev-will/status", will.Topic);
        Assert.Equal("{\"online\":false}", will.Text());
        Assert.Equal("application/json", will.ContentType);
        Assert.Equal([new MqttUserProperty("reason", "will")], will.UserProperties);
    }

    [Fact]
    public async Task Disconnect_with_will_reason_publishes_the_will()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (watcher, sink) = await TestClient.ConnectAsync(broker);
        await using var _w = watcher;
        await watcher.SubscribeAsync("w2/#");
        var (device, _) = await TestClient.ConnectAsync(TestClient.Options(broker) with { Will = TestClient.Message("w2/d", "bye") });
        await using var _d = device;
        await device.DisconnectAsync(MqttReasonCode.DisconnectWithWillMessage);
        Assert.Equal("bye", (await sink.NextAsync()).Text());
    }

    [Fact]
    public async Task Unacknowledged_inbound_message_is_redelivered_after_a_broker_restart_with_persistence()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { Persistence = true });
        var options = TestClient.Options(broker, "persist-sub") with { CleanStart = false, SessionExpiryInterval = 3600 };
        var client = new MqttClient(options);
        await using var _c = client;
        var first = new TaskCompletionSource<MqttApplicationMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = new TaskCompletionSource<MqttApplicationMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        client.MessageHandler = async (m, ct) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                // The application has not made it durable yet: hold the acknowledgement.
                first.TrySetResult(m);
                await release.Task.WaitAsync(ct);
                throw new InvalidOperationException("application crashed before storing the message");
            }

            second.TrySetResult(m);
        };
        await client.ConnectAsync();
        await client.SubscribeAsync("persist/t");

        var (pub, _) = await TestClient.ConnectAsync(broker);
        await pub.PublishAsync(TestClient.Message("persist/t", "keep me"));
        await pub.DisposeAsync();
        Assert.Equal("keep me", (await first.Task.WaitAsync(TestClient.Patience)).Text());

        await broker.RestartAsync();
        release.SetResult();

        MqttApplicationMessage again = await second.Task.WaitAsync(TestClient.Patience);
        Assert.Equal("keep me", again.Text());
        Assert.True(again.Duplicate);
        Assert.True(client.ConnectResult!.SessionPresent);
    }

    [Theory]
    [InlineData(MqttQualityOfService.AtLeastOnce)]
    [InlineData(MqttQualityOfService.ExactlyOnce)]
    public async Task Message_whose_handler_failed_is_not_acknowledged_and_comes_back_on_the_resumed_session(MqttQualityOfService qos)
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var client = new MqttClient(TestClient.Options(broker, "handler-fails-" + (int)qos) with { CleanStart = false, SessionExpiryInterval = 600 });
        await using var _c = client;
        var failed = new TaskCompletionSource<MqttMessageHandlerFailedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        var delivered = new TaskCompletionSource<MqttApplicationMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        int calls = 0;
        client.MessageHandlerFailed += (_, e) => failed.TrySetResult(e);
        client.MessageHandler = (m, _) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                throw new IOException("disk full while storing the message");
            }

            delivered.TrySetResult(m);
            return ValueTask.CompletedTask;
        };
        await client.ConnectAsync();
        await client.SubscribeAsync("hf/t", qos);
        var (pub, _) = await TestClient.ConnectAsync(broker);
        await using var _p = pub;
        await pub.PublishAsync(TestClient.Message("hf/t", "precious", qos));

        MqttMessageHandlerFailedEventArgs failure = await failed.Task.WaitAsync(TestClient.Patience);
        Assert.IsType<IOException>(failure.Exception);
        Assert.Equal("precious", failure.Message.Text());

        client.AbortConnection(); // the link drops; the session stays on the broker
        MqttApplicationMessage again = await delivered.Task.WaitAsync(TestClient.Patience);
        Assert.Equal("precious", again.Text());
        Assert.True(again.Duplicate);
    }

    [Fact]
    public async Task Unacknowledged_publish_is_resent_with_the_same_id_and_dup_after_reconnect()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { Persistence = true });
        var (sub, sink) = await TestClient.ConnectAsync(TestClient.Options(broker, "resend-sub") with { CleanStart = false, SessionExpiryInterval = 3600 });
        await using var _s = sub;
        await sub.SubscribeAsync("resend/t");

        var sent = new List<PublishPacket>();
        var options = TestClient.Options(broker, "resend-pub") with { CleanStart = false, SessionExpiryInterval = 3600, KeepAlive = TimeSpan.FromSeconds(30) };
        var pub = new MqttClient(options) { PacketSentProbe = p => { if (p is PublishPacket pp) { lock (sent) { sent.Add(pp); } } } };
        await using var _p = pub;
        await pub.ConnectAsync();
        // Persist both sessions, then make the broker deaf: the PUBLISH reaches a frozen process.
        await broker.RestartAsync();
        await pub.WaitForStateAsync(MqttConnectionState.Connected);
        await sub.WaitForStateAsync(MqttConnectionState.Connected);
        broker.Pause();
        Task<MqttPublishResult> publish = pub.PublishAsync(TestClient.Message("resend/t", "survivor"));
        await WaitUntilAsync(() => { lock (sent) { return sent.Count == 1; } });
        Assert.False(publish.IsCompleted);

        await broker.KillAsync();
        await broker.StartAgainAsync();

        MqttPublishResult result = await publish.WaitAsync(TestClient.Patience);
        Assert.Equal(MqttReasonCode.Success, result.ReasonCode);
        Assert.True(pub.ConnectResult!.SessionPresent);
        lock (sent)
        {
            Assert.Equal(2, sent.Count);
            Assert.False(sent[0].Dup);
            Assert.True(sent[1].Dup);
            Assert.Equal(sent[0].PacketId, sent[1].PacketId);
        }

        Assert.Equal("survivor", (await sink.NextAsync()).Text());
    }

    [Fact]
    public async Task Mqtt311_persistent_session_is_resumed_after_a_dropped_link()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (client, sink) = await TestClient.ConnectAsync(TestClient.Options(broker, "v3-persistent", MqttProtocolVersion.V311) with { CleanStart = false });
        await using var _c = client;
        await client.SubscribeAsync("v3p/t");
        var reconnected = new TaskCompletionSource<MqttConnectResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.ConnectionStateChanged += (_, e) =>
        {
            if (e.State == MqttConnectionState.Connected)
            {
                reconnected.TrySetResult(e.ConnectResult!);
            }
        };
        client.AbortConnection();
        MqttConnectResult result = await reconnected.Task.WaitAsync(TestClient.Patience);
        Assert.True(result.SessionPresent);

        var (pub, _) = await TestClient.ConnectAsync(broker);
        await using var _p = pub;
        await pub.PublishAsync(TestClient.Message("v3p/t", "still subscribed"));
        Assert.Equal("still subscribed", (await sink.NextAsync()).Text());
    }

    [Fact]
    public async Task Subscriptions_are_restored_when_the_broker_lost_the_session()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (client, sink) = await TestClient.ConnectAsync(TestClient.Options(broker) with { CleanStart = false, SessionExpiryInterval = 3600 });
        await using var _c = client;
        await client.SubscribeAsync("resub/#");

        await broker.RestartAsync(); // no persistence: the session is gone
        await client.WaitForStateAsync(MqttConnectionState.Connected);
        Assert.False(client.ConnectResult!.SessionPresent);

        // The resubscribe is asynchronous after CONNACK: publish until it is delivered.
        var (pub, _) = await TestClient.ConnectAsync(broker);
        await using var _p = pub;
        MqttApplicationMessage? got = null;
        for (int i = 0; i < 100 && got is null; i++)
        {
            await pub.PublishAsync(TestClient.Message("resub/x", "back"));
            try
            {
                got = await sink.NextAsync(TimeSpan.FromMilliseconds(200));
            }
            catch (TimeoutException)
            {
                // not yet resubscribed
            }
        }

        Assert.Equal("back", got?.Text());
    }

    [Fact]
    public async Task Offline_fail_fast_policy_throws_not_connected()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (client, _) = await TestClient.ConnectAsync(TestClient.Options(broker) with { OfflinePolicy = MqttOfflinePublishPolicy.FailFast });
        await using var _c = client;
        await broker.StopAsync();
        await client.WaitForStateAsync(MqttConnectionState.Reconnecting);
        var ex = await Assert.ThrowsAsync<MqttClientNotConnectedException>(() => client.PublishAsync(TestClient.Message("off/t", "x")));
        Assert.Contains("FailFast", ex.Message);
    }

    [Fact]
    public async Task Offline_wait_policy_publishes_once_the_broker_is_back()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (client, sink) = await TestClient.ConnectAsync(TestClient.Options(broker) with { OfflinePolicy = MqttOfflinePublishPolicy.WaitForConnection, OfflineWaitLimit = TestClient.Patience });
        await using var _c = client;
        await broker.StopAsync();
        await client.WaitForStateAsync(MqttConnectionState.Reconnecting);
        Task<MqttPublishResult> publish = client.PublishAsync(TestClient.Message("off/t", "later"));
        await broker.StartAgainAsync();
        // Nobody subscribes to off/t: Mosquitto says so with the success code 0x10.
        Assert.Equal(MqttReasonCode.NoMatchingSubscribers, (await publish.WaitAsync(TestClient.Patience)).ReasonCode);
    }

    [Fact]
    public async Task Offline_wait_policy_gives_up_after_its_bound()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (client, _) = await TestClient.ConnectAsync(TestClient.Options(broker) with { OfflinePolicy = MqttOfflinePublishPolicy.WaitForConnection, OfflineWaitLimit = TimeSpan.FromMilliseconds(200) });
        await using var _c = client;
        await broker.StopAsync();
        await client.WaitForStateAsync(MqttConnectionState.Reconnecting);
        var ex = await Assert.ThrowsAsync<MqttClientNotConnectedException>(() => client.PublishAsync(TestClient.Message("off/t", "x")));
        Assert.Contains("offline wait limit", ex.Message);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TestClient.Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("condition not reached");
            }

            await Task.Delay(10);
        }
    }
}

public sealed class TakeoverTests
{
    [Fact]
    public async Task Session_take_over_by_the_same_client_id_ends_the_older_connection()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var first = new MqttClient(TestClient.Options(broker, "same-id") with { AutoReconnect = false });
        await using var _f = first;
        var ended = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        first.ConnectionStateChanged += (_, e) =>
        {
            if (e.State == MqttConnectionState.Disconnected)
            {
                ended.TrySetResult(e.Reason);
            }
        };
        await first.ConnectAsync();
        var (second, _) = await TestClient.ConnectAsync(TestClient.Options(broker, "same-id") with { AutoReconnect = false });
        await using var _s = second;
        // Mosquitto 2.0.11 closes the socket without a DISCONNECT 0x8E; a broker that sends one
        // surfaces as MqttServerDisconnectException (see MisbehavingBrokerTests).
        var reason = await ended.Task.WaitAsync(TestClient.Patience);
        Assert.IsAssignableFrom<MqttConnectionLostException>(reason);
        Assert.Equal(MqttConnectionState.Connected, second.State);
    }
}
