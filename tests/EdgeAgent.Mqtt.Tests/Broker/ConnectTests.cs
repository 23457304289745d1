using EdgeAgent.Mqtt.Packets;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Mqtt.Tests.Broker;

public sealed class ConnectTests
{
    [Fact]
    public async Task Mqtt5_connect_surfaces_the_connack_properties_of_mosquitto()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var options = TestClient.Options(broker) with { ClientId = string.Empty };
        var (client, _) = await TestClient.ConnectAsync(options);
        await using var _c = client;

        MqttConnectResult result = client.ConnectResult!;
        Assert.Equal(MqttReasonCode.Success, result.ReasonCode);
        Assert.False(result.SessionPresent);
        Assert.False(string.IsNullOrEmpty(result.AssignedClientIdentifier));
        Assert.Equal(20, result.ReceiveMaximum);
        Assert.Equal(10, result.TopicAliasMaximum);
        Assert.True(result.RetainAvailable);
        Assert.Equal(MqttConnectionState.Connected, client.State);
    }

    [Fact]
    public async Task Mqtt311_connect_and_round_trip_work()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var (client, sink) = await TestClient.ConnectAsync(broker, version: MqttProtocolVersion.V311);
        await using var _c = client;
        await client.SubscribeAsync("v3/t");
        await client.PublishAsync(TestClient.Message("v3/t", "hello"));
        Assert.Equal("hello", (await sink.NextAsync()).Text());
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task Wrong_password_is_refused_with_not_authorized_which_is_how_mosquitto_2_reports_it(MqttProtocolVersion version)
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { AllowAnonymous = false, Users = new Dictionary<string, string> { ["dev1"] = "right" } });
        var options = TestClient.Options(broker, version: version) with { Username = "dev1", Password = "wrong"u8.ToArray() };
        await using var client = new MqttClient(options);
        var ex = await Assert.ThrowsAsync<MqttConnectException>(() => client.ConnectAsync());
        // Mosquitto 2.0.11 answers a wrong password with 0x87 (v5) / return code 5 (3.1.1), not 0x86 / 4.
        Assert.Equal(MqttReasonCode.NotAuthorized, ex.ReasonCode);
        Assert.Contains("password", ex.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(MqttConnectionState.Disconnected, client.State);
    }

    [Fact]
    public async Task Right_password_connects()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { AllowAnonymous = false, Users = new Dictionary<string, string> { ["dev1"] = "right" } });
        var options = TestClient.Options(broker) with { Username = "dev1", Password = "right"u8.ToArray() };
        var (client, _) = await TestClient.ConnectAsync(options);
        await using var _c = client;
        Assert.Equal(MqttConnectionState.Connected, client.State);
    }

    [Fact]
    public async Task Anonymous_client_is_refused_when_the_broker_requires_credentials()
    {
        await using var broker = await MosquittoBroker.StartAsync(new MosquittoBrokerOptions { AllowAnonymous = false, Users = new Dictionary<string, string> { ["dev1"] = "right" } });
        await using var client = new MqttClient(TestClient.Options(broker));
        var ex = await Assert.ThrowsAsync<MqttConnectException>(() => client.ConnectAsync());
        Assert.Equal(MqttReasonCode.NotAuthorized, ex.ReasonCode);
    }

    [Fact]
    public async Task Connection_state_events_follow_the_life_cycle()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var client = new MqttClient(TestClient.Options(broker));
        var states = new List<MqttConnectionState>();
        var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.ConnectionStateChanged += (_, e) =>
        {
            lock (states)
            {
                states.Add(e.State);
                if (e.State == MqttConnectionState.Connected && states.Contains(MqttConnectionState.Reconnecting))
                {
                    reconnected.TrySetResult();
                }
            }
        };
        await client.ConnectAsync();
        Assert.NotNull(client.ConnectResult);
        client.AbortConnection();
        await reconnected.Task.WaitAsync(TestClient.Patience);
        await client.DisconnectAsync();
        await client.DisposeAsync();
        lock (states)
        {
            Assert.Equal(
                [MqttConnectionState.Connecting, MqttConnectionState.Connected, MqttConnectionState.Reconnecting, MqttConnectionState.Connected, MqttConnectionState.Disconnected, MqttConnectionState.Closed],
                states);
        }
    }

    [Fact]
    public async Task Nothing_listening_gives_a_socket_error_not_a_hang()
    {
        await using var broker = await MosquittoBroker.StartAsync();
        var options = TestClient.Options(broker);
        await broker.StopAsync();
        await using var client = new MqttClient(options);
        await Assert.ThrowsAsync<System.Net.Sockets.SocketException>(() => client.ConnectAsync());
    }
}
