using EdgeAgent.Mqtt.Packets;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Mqtt.Tests.Broker;

/// <summary>Our client against libmosquitto's command line tools, MQTT 5 properties included.</summary>
public sealed class InteropTests
{
    [Fact]
    public async Task Mosquitto_sub_receives_our_mqtt5_message_with_its_properties()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        // -F: %t topic, %p payload, %C content type, %R response topic, %D correlation data, %P user properties.
        Task<ChildProcess.Result> sub = ChildProcess.RunAsync("mosquitto_sub",
            [.. broker.ClientArguments, "-V", "mqttv5", "-q", "1", "-t", "interop/out", "-C", "1", "-W", "20", "-F", "%t|%p|%C|%R|%D|%P"],
            timeout: TimeSpan.FromSeconds(25));

        var (client, _) = await TestClient.ConnectAsync(broker);
        await using var _c = client;
        var message = new MqttApplicationMessage
        {
            Topic = "interop/out",
            Payload = "payload-1"u8.ToArray(),
            ContentType = "text/plain",
            ResponseTopic = "interop/reply",
            CorrelationData = "corr-9"u8.ToArray(),
            UserProperties = [new("origin", "edgeagent")],
        };

        // mosquitto_sub subscribes asynchronously: republish until it has printed its line.
        while (!sub.IsCompleted)
        {
            await client.PublishAsync(message);
            await Task.WhenAny(sub, Task.Delay(100));
        }

        ChildProcess.Result result = await sub;
        Assert.True(result.ExitCode == 0, result.StandardError);
        Assert.Equal("interop/out|payload-1|text/plain|interop/reply|corr-9|origin:edgeagent", result.StandardOutput.Trim());
    }

    [Fact]
    public async Task We_receive_what_mosquitto_pub_sends_with_mqtt5_properties()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (client, sink) = await TestClient.ConnectAsync(broker);
        await using var _c = client;
        await client.SubscribeAsync("interop/in");

        ChildProcess.Result pub = await ChildProcess.RunAsync("mosquitto_pub",
            [.. broker.ClientArguments, "-V", "mqttv5", "-q", "1", "-t", "interop/in", "-m", "from-c",
             "-D", "publish", "content-type", "application/x-test",
             "-D", "publish", "user-property", "k", "v",
             "-D", "publish", "response-topic", "interop/back",
             "-D", "publish", "correlation-data", "abc",
             "-D", "publish", "message-expiry-interval", "120",
             "-D", "publish", "payload-format-indicator", "1"]);
        Assert.True(pub.ExitCode == 0, pub.StandardError);

        MqttApplicationMessage got = await sink.NextAsync();
        Assert.Equal("from-c", got.Text());
        Assert.Equal(MqttQualityOfService.AtLeastOnce, got.QoS);
        Assert.Equal("application/x-test", got.ContentType);
        Assert.Equal([new MqttUserProperty("k", "v")], got.UserProperties);
        Assert.Equal("interop/back", got.ResponseTopic);
        Assert.Equal("abc"u8.ToArray(), got.CorrelationData!.Value.ToArray());
        Assert.InRange(got.MessageExpiryInterval!.Value, 1u, 120u);
        Assert.True(got.PayloadIsUtf8);
    }

    [Fact]
    public async Task Mqtt311_interop_both_ways()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (client, sink) = await TestClient.ConnectAsync(broker, version: MqttProtocolVersion.V311);
        await using var _c = client;
        await client.SubscribeAsync("interop3/in");
        ChildProcess.Result pub = await ChildProcess.RunAsync("mosquitto_pub", [.. broker.ClientArguments, "-V", "mqttv311", "-q", "1", "-t", "interop3/in", "-m", "v3-in"]);
        Assert.True(pub.ExitCode == 0, pub.StandardError);
        Assert.Equal("v3-in", (await sink.NextAsync()).Text());

        Task<ChildProcess.Result> sub = ChildProcess.RunAsync("mosquitto_sub",
            [.. broker.ClientArguments, "-V", "mqttv311", "-q", "1", "-t", "interop3/out", "-C", "1", "-W", "20"], timeout: TimeSpan.FromSeconds(25));
        while (!sub.IsCompleted)
        {
            await client.PublishAsync(TestClient.Message("interop3/out", "v3-out"));
            await Task.WhenAny(sub, Task.Delay(100));
        }

        Assert.Equal("v3-out", (await sub).StandardOutput.Trim());
    }
}
