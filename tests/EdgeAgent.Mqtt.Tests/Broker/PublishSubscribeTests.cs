using EdgeAgent.Mqtt.Packets;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Mqtt.Tests.Broker;

public sealed class PublishSubscribeTests
{
    [Theory]
    [InlineData(MqttQualityOfService.AtMostOnce)]
    [InlineData(MqttQualityOfService.AtLeastOnce)]
    [InlineData(MqttQualityOfService.ExactlyOnce)]
    public async Task Message_round_trips_with_all_mqtt5_properties(MqttQualityOfService qos)
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (sub, sink) = await TestClient.ConnectAsync(broker);
        var (pub, _) = await TestClient.ConnectAsync(broker);
        await using var _s = sub;
        await using var _p = pub;
        await sub.SubscribeAsync([new MqttTopicSubscription("rt/#", MqttQualityOfService.ExactlyOnce)], subscriptionIdentifier: 77);

        var sent = new MqttApplicationMessage
        {
            Topic = "rt/a",
            Payload = "{\"x\":1}"u8.ToArray(),
            QoS = qos,
            PayloadIsUtf8 = true,
            ContentType = "application/json",
            MessageExpiryInterval = 300,
            ResponseTopic = "rt/reply",
            CorrelationData = new byte[] { 1, 2, 3 },
            UserProperties = [new("k1", "v1"), new("k1", "v2")],
        };
        MqttPublishResult result = await pub.PublishAsync(sent);
        Assert.Equal(MqttReasonCode.Success, result.ReasonCode);

        MqttApplicationMessage got = await sink.NextAsync();
        Assert.Equal("rt/a", got.Topic);
        Assert.Equal("{\"x\":1}", got.Text());
        Assert.Equal(qos, got.QoS);
        Assert.True(got.PayloadIsUtf8);
        Assert.Equal("application/json", got.ContentType);
        Assert.InRange(got.MessageExpiryInterval!.Value, 1u, 300u);
        Assert.Equal("rt/reply", got.ResponseTopic);
        Assert.Equal(new byte[] { 1, 2, 3 }, got.CorrelationData!.Value.ToArray());
        Assert.Equal([new MqttUserProperty("k1", "v1"), new MqttUserProperty("k1", "v2")], got.UserProperties);
        Assert.Equal([77u], got.SubscriptionIdentifiers);
        Assert.Equal(0, pub.InflightCount);
    }

    [Fact]
    public async Task Retained_message_reaches_a_later_subscriber_with_the_retain_flag()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (pub, _) = await TestClient.ConnectAsync(broker);
        await using var _p = pub;
        await pub.PublishAsync(TestClient.Message("edgeagent/v1/d1/status", "online") with { Retain = true });

        var (sub, sink) = await TestClient.ConnectAsync(broker);
        await using var _s = sub;
        await sub.SubscribeAsync("edgeagent/v1/+/status");
        MqttApplicationMessage got = await sink.NextAsync();
        Assert.True(got.Retain);
        Assert.Equal("online", got.Text());
    }

    [Fact]
    public async Task Retain_handling_do_not_send_suppresses_retained_messages()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (pub, _) = await TestClient.ConnectAsync(broker);
        await using var _p = pub;
        await pub.PublishAsync(TestClient.Message("rh/x", "old") with { Retain = true });

        var (sub, sink) = await TestClient.ConnectAsync(broker);
        await using var _s = sub;
        await sub.SubscribeAsync([new MqttTopicSubscription("rh/x", RetainHandling: MqttRetainHandling.DoNotSend)]);
        await pub.PublishAsync(TestClient.Message("rh/x", "new"));
        // The first message to arrive must be the live one, not the retained one.
        Assert.Equal("new", (await sink.NextAsync()).Text());
    }

    [Fact]
    public async Task No_local_subscription_does_not_receive_own_messages()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (client, sink) = await TestClient.ConnectAsync(broker);
        var (other, _) = await TestClient.ConnectAsync(broker);
        await using var _c = client;
        await using var _o = other;
        await client.SubscribeAsync([new MqttTopicSubscription("nl/t", NoLocal: true)]);
        await client.PublishAsync(TestClient.Message("nl/t", "mine"));
        await other.PublishAsync(TestClient.Message("nl/t", "theirs"));
        Assert.Equal("theirs", (await sink.NextAsync()).Text());
    }

    [Fact]
    public async Task Shared_subscription_spreads_messages_over_two_clients_without_duplicates()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (a, sinkA) = await TestClient.ConnectAsync(broker);
        var (b, sinkB) = await TestClient.ConnectAsync(broker);
        var (pub, _) = await TestClient.ConnectAsync(broker);
        await using var _a = a;
        await using var _b = b;
        await using var _p = pub;
        await a.SubscribeAsync("$share/hub/edgeagent/v1/+/telemetry");
        await b.SubscribeAsync("$share/hub/edgeagent/v1/+/telemetry");

        const int count = 100;
        for (int i = 0; i < count; i++)
        {
            await pub.PublishAsync(TestClient.Message($"edgeagent/v1/d{i % 7}/telemetry", i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        var seen = new HashSet<string>();
        var deadline = DateTime.UtcNow + TestClient.Patience;
        while (seen.Count < count && DateTime.UtcNow < deadline)
        {
            while (sinkA.TryTake(out var m))
            {
                Assert.True(seen.Add(m!.Text()), "duplicate " + m!.Text());
            }

            while (sinkB.TryTake(out var m))
            {
                Assert.True(seen.Add(m!.Text()), "duplicate " + m!.Text());
            }

            await Task.Delay(20);
        }

        Assert.Equal(count, seen.Count);
        Assert.True(sinkA.Count > 0 && sinkB.Count > 0, $"load not spread: {sinkA.Count} / {sinkB.Count}");
        Assert.Equal(count, sinkA.Count + sinkB.Count);
    }

    [Fact]
    public async Task Acl_denial_of_a_publish_is_a_typed_failure_with_reason_not_authorized()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions
        {
            AllowAnonymous = false,
            Users = new Dictionary<string, string> { ["d1"] = "p1" },
            Acl = "pattern readwrite edgeagent/v1/%u/#\n",
        });
        var options = TestClient.Options(broker) with { Username = "d1", Password = "p1"u8.ToArray() };
        var (client, sink) = await TestClient.ConnectAsync(options);
        await using var _c = client;

        // Mosquitto 2.0.11 grants SUBSCRIBE to a foreign subtree and filters on delivery instead,
        // so the visible denial is on PUBLISH (PUBACK 0x87).
        var pubEx = await Assert.ThrowsAsync<MqttPublishException>(() => client.PublishAsync(TestClient.Message("edgeagent/v1/d2/status", "x")));
        Assert.Equal(MqttReasonCode.NotAuthorized, pubEx.ReasonCode);

        // Its own subtree works.
        await client.SubscribeAsync("edgeagent/v1/d1/cmd");
        await client.PublishAsync(TestClient.Message("edgeagent/v1/d1/cmd", "ok"));
        Assert.Equal("ok", (await sink.NextAsync()).Text());
        Assert.Equal(0, client.InflightCount);
    }

    [Fact]
    public async Task Outbound_topic_aliases_are_accepted_by_mosquitto()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (sub, sink) = await TestClient.ConnectAsync(broker);
        await using var _s = sub;
        await sub.SubscribeAsync("alias/#");
        var sent = new List<MqttPacket>();
        var pub = new MqttClient(TestClient.Options(broker) with { UseTopicAliases = true }) { PacketSentProbe = p => { lock (sent) { sent.Add(p); } } };
        await using var _p = pub;
        await pub.ConnectAsync();
        for (int i = 0; i < 5; i++)
        {
            await pub.PublishAsync(TestClient.Message("alias/long/topic/name", i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        var got = await sink.TakeAsync(5);
        Assert.All(got, m => Assert.Equal("alias/long/topic/name", m.Topic));
        lock (sent)
        {
            var publishes = sent.OfType<PublishPacket>().ToList();
            Assert.Equal("alias/long/topic/name", publishes[0].Topic);
            Assert.Equal(1, publishes[0].TopicAlias);
            Assert.All(publishes.Skip(1), p => Assert.Equal(string.Empty, p.Topic));
        }
    }

    [Fact]
    public async Task Message_over_the_brokers_maximum_packet_size_fails_without_being_sent()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { ExtraConfig = ["max_packet_size 1000"] });
        var (client, sink) = await TestClient.ConnectAsync(broker);
        await using var _c = client;
        Assert.Equal(1000u, client.ConnectResult!.MaximumPacketSize);
        await client.SubscribeAsync("big/#");
        var ex = await Assert.ThrowsAsync<MqttPacketTooLargeException>(() => client.PublishAsync(new MqttApplicationMessage { Topic = "big/1", Payload = new byte[2000] }));
        Assert.True(ex.Size > 1000);
        // The connection survives and small messages still flow.
        await client.PublishAsync(new MqttApplicationMessage { Topic = "big/2", Payload = new byte[100] });
        Assert.Equal("big/2", (await sink.NextAsync()).Topic);
        Assert.Equal(MqttConnectionState.Connected, client.State);
    }

    [Fact]
    public async Task Unsubscribe_stops_delivery()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (client, sink) = await TestClient.ConnectAsync(broker);
        await using var _c = client;
        await client.SubscribeAsync("u/a");
        await client.SubscribeAsync("u/b");
        MqttSubscribeResult result = await client.UnsubscribeAsync(["u/a"]);
        Assert.Equal([MqttReasonCode.Success], result.ReasonCodes);
        await client.PublishAsync(TestClient.Message("u/a", "gone"));
        await client.PublishAsync(TestClient.Message("u/b", "kept"));
        Assert.Equal("kept", (await sink.NextAsync()).Text());
    }

    [Fact]
    public async Task Invalid_topics_are_refused_before_anything_is_sent()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (client, _) = await TestClient.ConnectAsync(broker);
        await using var _c = client;
        await Assert.ThrowsAsync<ArgumentException>(() => client.PublishAsync(TestClient.Message("a/+", "x")));
        await Assert.ThrowsAsync<ArgumentException>(() => client.SubscribeAsync("a/#/b"));
        await Assert.ThrowsAsync<ArgumentException>(() => client.SubscribeAsync([new MqttTopicSubscription("$share/g/a", NoLocal: true)]));
        Assert.Equal(MqttConnectionState.Connected, client.State);
    }
}
