using System.Net;
using System.Net.Sockets;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Mqtt.Wire;

namespace EdgeAgent.Mqtt.Tests.Client;

/// <summary>
/// Injected faults: a scripted peer on a loopback socket plays a broken broker, so we can check
/// what the client does with bytes no real broker sends.
/// </summary>
public sealed class MisbehavingBrokerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private sealed class ScriptedBroker : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

        public ScriptedBroker() => _listener.Start();

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        /// <summary>Accepts one client, reads its CONNECT, sends CONNACK then <paramref name="after"/>, and returns what the client sent next.</summary>
        public async Task<byte[]> RunAsync(byte[] after)
        {
            using Socket socket = await _listener.AcceptSocketAsync().WaitAsync(Patience);
            var buffer = new byte[4096];
            int n = await socket.ReceiveAsync(buffer);
            Assert.True(n > 0 && buffer[0] == 0x10, "expected CONNECT");
            await socket.SendAsync(new byte[] { 0x20, 0x03, 0x00, 0x00, 0x00 }); // CONNACK v5, success, no properties
            await socket.SendAsync(after);
            var received = new List<byte>();
            using var cts = new CancellationTokenSource(Patience);
            while (true)
            {
                int read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (read == 0)
                {
                    return [.. received];
                }

                received.AddRange(buffer.AsSpan(0, read).ToArray());
            }
        }

        public ValueTask DisposeAsync()
        {
            _listener.Stop();
            _listener.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    private static MqttClientOptions Options(int port) => new()
    {
        Endpoint = MqttEndpoint.Tcp("127.0.0.1", port),
        ClientId = "victim",
        AutoReconnect = false,
        KeepAlive = TimeSpan.Zero,
        MaximumPacketSize = 1024,
    };

    private static async Task<(byte[] Sent, Exception? Reason)> ProvokeAsync(byte[] badBytes)
    {
        await using var broker = new ScriptedBroker();
        await using var client = new MqttClient(Options(broker.Port));
        var ended = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.ConnectionStateChanged += (_, e) =>
        {
            if (e.State == MqttConnectionState.Disconnected)
            {
                ended.TrySetResult(e.Reason);
            }
        };
        Task<byte[]> script = broker.RunAsync(badBytes);
        await client.ConnectAsync();
        byte[] sent = await script;
        return (sent, await ended.Task.WaitAsync(Patience));
    }

    [Fact]
    public async Task Malformed_packet_gets_disconnect_0x81_and_the_connection_is_closed()
    {
        // PUBLISH whose topic length runs past the packet.
        var (sent, reason) = await ProvokeAsync([0x30, 0x03, 0xFF, 0xFF, 0x61]);
        Assert.Equal(0xE0, sent[0]);
        Assert.Equal((byte)MqttReasonCode.MalformedPacket, sent[2]);
        var ex = Assert.IsType<MqttProtocolException>(reason);
        Assert.Equal(MqttReasonCode.MalformedPacket, ex.ReasonCode);
    }

    [Fact]
    public async Task Packet_over_our_maximum_size_gets_disconnect_0x95_before_its_body_arrives()
    {
        // Header announces 1 MB; the body never comes.
        var (sent, reason) = await ProvokeAsync([0x30, 0x80, 0x80, 0x40]);
        Assert.Equal((byte)MqttReasonCode.PacketTooLarge, sent[2]);
        Assert.Equal(MqttReasonCode.PacketTooLarge, Assert.IsType<MqttProtocolException>(reason).ReasonCode);
    }

    [Fact]
    public async Task Remaining_length_over_four_bytes_gets_disconnect_0x81()
    {
        var (sent, _) = await ProvokeAsync([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
        Assert.Equal((byte)MqttReasonCode.MalformedPacket, sent[2]);
    }

    [Fact]
    public async Task Unknown_topic_alias_is_a_protocol_error()
    {
        // PUBLISH QoS 0, empty topic, Topic Alias 5 that was never set.
        var (sent, reason) = await ProvokeAsync([0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x05]);
        Assert.Equal((byte)MqttReasonCode.ProtocolError, sent[2]);
        Assert.IsType<MqttProtocolException>(reason);
    }

    [Fact]
    public async Task Server_disconnect_reason_is_surfaced_as_a_typed_error()
    {
        // DISCONNECT 0x8B Server shutting down, reason string "maintenance".
        byte[] reasonString = "maintenance"u8.ToArray();
        byte[] packet = [0xE0, (byte)(2 + 3 + reasonString.Length), 0x8B, (byte)(3 + reasonString.Length), 0x1F, 0x00, (byte)reasonString.Length, .. reasonString];
        var (_, reason) = await ProvokeAsync(packet);
        var ex = Assert.IsType<MqttServerDisconnectException>(reason);
        Assert.Equal(MqttReasonCode.ServerShuttingDown, ex.ReasonCode);
        Assert.Contains("maintenance", ex.Message);
    }

    [Fact]
    public async Task Inbound_topic_alias_set_by_the_broker_is_resolved()
    {
        await using var broker = new ScriptedBroker();
        await using var client = new MqttClient(Options(broker.Port));
        var got = new List<string>();
        var two = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.MessageHandler = (m, _) =>
        {
            lock (got)
            {
                got.Add(m.Topic + "=" + System.Text.Encoding.UTF8.GetString(m.Payload.Span));
                if (got.Count == 2)
                {
                    two.TrySetResult();
                }
            }

            return ValueTask.CompletedTask;
        };

        using var codec = new V5PacketCodec();
        using var writer = new MqttBufferWriter();
        codec.Encode(new PublishPacket { Topic = "long/topic", TopicAlias = 3, Payload = "a"u8.ToArray() }, writer);
        codec.Encode(new PublishPacket { Topic = string.Empty, TopicAlias = 3, Payload = "b"u8.ToArray() }, writer);
        Task<byte[]> script = broker.RunAsync(writer.WrittenSpan.ToArray());
        await client.ConnectAsync();
        await two.Task.WaitAsync(Patience);
        Assert.Equal(["long/topic=a", "long/topic=b"], got);
        await client.DisconnectAsync();
        await script;
    }

    [Fact]
    public async Task Broker_exceeding_our_receive_maximum_is_tolerated_and_counted_by_default()
    {
        // Mosquitto 2.0.11 replays a persistent session's whole queue on reconnect, beyond our Receive
        // Maximum; disconnecting (0x93) would reconnect into the same replay forever.
        await using var broker = new ScriptedBroker();
        var client = new MqttClient(Options(broker.Port) with { ReceiveMaximum = 2 });
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int handled = 0;
        client.MessageHandler = async (_, ct) =>
        {
            await hold.Task.WaitAsync(ct);
            Interlocked.Increment(ref handled);
        };

        using var codec = new V5PacketCodec();
        using var writer = new MqttBufferWriter();
        for (ushort id = 1; id <= 3; id++)
        {
            codec.Encode(new PublishPacket { Topic = "t", QoS = MqttQualityOfService.AtLeastOnce, PacketId = id, Payload = "x"u8.ToArray() }, writer);
        }

        Task<byte[]> script = broker.RunAsync(writer.WrittenSpan.ToArray());
        await client.ConnectAsync();
        while (client.ReceiveMaximumOverruns == 0) await Task.Delay(10);
        Assert.Equal(MqttConnectionState.Connected, client.State);
        hold.SetResult();
        while (Volatile.Read(ref handled) < 3) await Task.Delay(10);
        await client.DisposeAsync(); // DISCONNECT 0x00 and close
        byte[] sent = await script;

        var packets = new List<(int Type, byte[] Body)>();
        for (int i = 0; i < sent.Length; )
        {
            int length = sent[i + 1]; // every packet here is shorter than 128 bytes
            packets.Add((sent[i] >> 4, sent.AsSpan(i + 2, length).ToArray()));
            i += 2 + length;
        }
        Assert.Equal([1, 2, 3], packets.Where(p => p.Type == 4).Select(p => p.Body[0] << 8 | p.Body[1]));
        var disconnect = Assert.Single(packets, p => p.Type == 14);
        Assert.True(disconnect.Body.Length == 0 || disconnect.Body[0] == 0, "normal DISCONNECT, not 0x93");
        Assert.Equal(1, client.ReceiveMaximumOverruns);
    }

    [Fact]
    public async Task Broker_exceeding_our_receive_maximum_gets_disconnect_0x93_when_strict()
    {
        await using var broker = new ScriptedBroker();
        await using var client = new MqttClient(Options(broker.Port) with { ReceiveMaximum = 2, DisconnectOnReceiveMaximumExceeded = true });
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.MessageHandler = async (_, ct) => await hold.Task.WaitAsync(ct); // never acknowledges
        var ended = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.ConnectionStateChanged += (_, e) =>
        {
            if (e.State == MqttConnectionState.Disconnected)
            {
                ended.TrySetResult(e.Reason);
            }
        };

        using var codec = new V5PacketCodec();
        using var writer = new MqttBufferWriter();
        for (ushort id = 1; id <= 3; id++)
        {
            codec.Encode(new PublishPacket { Topic = "t", QoS = MqttQualityOfService.AtLeastOnce, PacketId = id, Payload = "x"u8.ToArray() }, writer);
        }

        Task<byte[]> script = broker.RunAsync(writer.WrittenSpan.ToArray());
        await client.ConnectAsync();
        byte[] sent = await script;
        Assert.Equal(0xE0, sent[0]);
        Assert.Equal((byte)MqttReasonCode.ReceiveMaximumExceeded, sent[2]);
        Assert.Equal(MqttReasonCode.ReceiveMaximumExceeded, Assert.IsType<MqttProtocolException>(await ended.Task.WaitAsync(Patience)).ReasonCode);
        hold.SetResult();
    }

    [Fact]
    public void Flapping_connections_back_off_exponentially_up_to_the_maximum()
    {
        var client = new MqttClient(new MqttClientOptions
        {
            Endpoint = MqttEndpoint.Tcp("127.0.0.1", 1),
            ReconnectMinDelay = TimeSpan.FromSeconds(1),
            ReconnectMaxDelay = TimeSpan.FromSeconds(60),
        });
        Assert.Equal(TimeSpan.Zero, client.FlappingDelay(1));
        Assert.InRange(client.FlappingDelay(2).TotalSeconds, 0.5, 1.5);
        Assert.InRange(client.FlappingDelay(4).TotalSeconds, 2, 6);
        Assert.InRange(client.FlappingDelay(30).TotalSeconds, 30, 90);
    }
}
