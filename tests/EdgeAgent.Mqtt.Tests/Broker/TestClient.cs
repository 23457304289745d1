using System.Threading.Channels;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.TestSupport.Mosquitto;

namespace EdgeAgent.Mqtt.Tests.Broker;

/// <summary>Builds clients against a test broker and collects what they receive.</summary>
internal static class TestClient
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public static MqttClientOptions Options(MosquittoBroker broker, string? clientId = null, MqttProtocolVersion version = MqttProtocolVersion.V500) => new()
    {
        Endpoint = MqttEndpoint.Tcp("127.0.0.1", broker.Port),
        ClientId = clientId ?? "t-" + Guid.NewGuid().ToString("N")[..10],
        ProtocolVersion = version,
        KeepAlive = TimeSpan.FromSeconds(10),
        ReconnectMinDelay = TimeSpan.FromMilliseconds(100),
        ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
    };

    public static async Task<(MqttClient Client, MessageSink Sink)> ConnectAsync(MqttClientOptions options)
    {
        var client = new MqttClient(options);
        var sink = new MessageSink();
        client.MessageHandler = sink.Handle;
        await client.ConnectAsync(new CancellationTokenSource(Patience).Token);
        return (client, sink);
    }

    public static Task<(MqttClient Client, MessageSink Sink)> ConnectAsync(MosquittoBroker broker, string? clientId = null, MqttProtocolVersion version = MqttProtocolVersion.V500) =>
        ConnectAsync(Options(broker, clientId, version));

    public static MqttApplicationMessage Message(string topic, string payload, MqttQualityOfService qos = MqttQualityOfService.AtLeastOnce) =>
        new() { Topic = topic, Payload = System.Text.Encoding.UTF8.GetBytes(payload), QoS = qos };

    public static string Text(this MqttApplicationMessage message) => System.Text.Encoding.UTF8.GetString(message.Payload.Span);

    /// <summary>Waits for a connection state (events are recorded from creation).</summary>
    public static async Task WaitForStateAsync(this MqttClient client, MqttConnectionState state, TimeSpan? timeout = null)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChange(object? sender, MqttConnectionStateChangedEventArgs e)
        {
            if (e.State == state)
            {
                reached.TrySetResult();
            }
        }

        client.ConnectionStateChanged += OnChange;
        try
        {
            if (client.State == state)
            {
                return;
            }

            await reached.Task.WaitAsync(timeout ?? Patience);
        }
        finally
        {
            client.ConnectionStateChanged -= OnChange;
        }
    }
}

/// <summary>Collects received messages; tests await them with a generous timeout.</summary>
internal sealed class MessageSink
{
    private readonly Channel<MqttApplicationMessage> _messages = Channel.CreateUnbounded<MqttApplicationMessage>();

    public int Count;

    public ValueTask Handle(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Count);
        _messages.Writer.TryWrite(message);
        return ValueTask.CompletedTask;
    }

    public async Task<MqttApplicationMessage> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TestClient.Patience);
        try
        {
            return await _messages.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("No message arrived in time.");
        }
    }

    public async Task<List<MqttApplicationMessage>> TakeAsync(int count, TimeSpan? timeout = null)
    {
        var list = new List<MqttApplicationMessage>(count);
        for (int i = 0; i < count; i++)
        {
            list.Add(await NextAsync(timeout));
        }

        return list;
    }

    public bool TryTake(out MqttApplicationMessage? message) => _messages.Reader.TryRead(out message);
}
