using EdgeAgent.Mqtt.Packets;
using Polly;

namespace EdgeAgent.Mqtt;

/// <summary>What a publish does while the client is offline.</summary>
public enum MqttOfflinePublishPolicy
{
    /// <summary>Throw <see cref="MqttClientNotConnectedException"/> at once.</summary>
    FailFast,
    /// <summary>Wait for the connection, at most <see cref="MqttClientOptions.OfflineWaitLimit"/>.</summary>
    WaitForConnection,
}

/// <summary>Client configuration. Immutable once the client is created.</summary>
public sealed record MqttClientOptions
{
    public required MqttEndpoint Endpoint { get; init; }

    /// <summary>Null for plain TCP / Unix socket.</summary>
    public MqttTlsOptions? Tls { get; init; }

    public MqttProtocolVersion ProtocolVersion { get; init; } = MqttProtocolVersion.V500;

    /// <summary>Empty: the broker assigns one (MQTT 5; requires clean start in 3.1.1).</summary>
    public string ClientId { get; init; } = string.Empty;

    /// <summary>Clean Start for the first connection. Reconnects always try to resume the session.</summary>
    public bool CleanStart { get; init; } = true;

    /// <summary>MQTT 5 Session Expiry Interval in seconds (0: session ends with the connection). In 3.1.1, a persistent session is CleanStart=false.</summary>
    public uint SessionExpiryInterval { get; init; }

    /// <summary>Keepalive (whole seconds, ≤ 65,535; zero disables it). The broker may impose its own.</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait for PINGRESP before declaring the link dead; defaults to the keepalive.</summary>
    public TimeSpan? PingTimeout { get; init; }

    public string? Username { get; init; }

    public ReadOnlyMemory<byte>? Password { get; init; }

    /// <summary>Last Will, published by the broker if we vanish without DISCONNECT.</summary>
    public MqttApplicationMessage? Will { get; init; }

    /// <summary>MQTT 5 Will Delay Interval in seconds.</summary>
    public uint WillDelayInterval { get; init; }

    /// <summary>Our Receive Maximum: unacknowledged QoS 1/2 messages the broker may send us at once.</summary>
    public ushort ReceiveMaximum { get; init; } = 100;

    /// <summary>
    /// What to do when the broker sends more unacknowledged QoS 1/2 messages than <see cref="ReceiveMaximum"/>.
    /// False (default): accept them, count them in <see cref="MqttClient.ReceiveMaximumOverruns"/> and let the
    /// bounded inbound queue slow the socket down. True: DISCONNECT with 0x93 (MQTT 5 §3.3.4 allows it).
    /// Mosquitto 2.0.11 overruns the limit when it replays a persistent session's queue on reconnect; a
    /// client that disconnects then reconnects into the same replay and never catches up (found by the
    /// chaos suite and the fleet simulation), so strictness is for conformance tests only.
    /// </summary>
    public bool DisconnectOnReceiveMaximumExceeded { get; init; }

    /// <summary>Our Maximum Packet Size; bigger inbound packets are refused before they are buffered.</summary>
    public uint MaximumPacketSize { get; init; } = 1024 * 1024;

    /// <summary>Topic aliases the broker may use towards us.</summary>
    public ushort TopicAliasMaximum { get; init; } = 16;

    /// <summary>Use topic aliases towards the broker when it allows them (saves bytes on cellular links).</summary>
    public bool UseTopicAliases { get; init; }

    public IReadOnlyList<MqttUserProperty> ConnectUserProperties { get; init; } = [];

    /// <summary>Bound on TCP/TLS setup plus CONNECT/CONNACK.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Reconnect after a lost connection (not after <c>DisconnectAsync</c>).</summary>
    public bool AutoReconnect { get; init; } = true;

    /// <summary>First and last delay of the default jittered exponential reconnect backoff.</summary>
    public TimeSpan ReconnectMinDelay { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Replaces the default reconnect pipeline (e.g. a named pipeline from DI). It must retry until cancelled.</summary>
    public ResiliencePipeline? ReconnectPipeline { get; init; }

    public MqttOfflinePublishPolicy OfflinePolicy { get; init; } = MqttOfflinePublishPolicy.FailFast;

    public TimeSpan OfflineWaitLimit { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Our own cap on unacknowledged QoS 1/2 publishes (the broker's Receive Maximum applies too).
    /// Bounds memory: publishes beyond it wait.
    /// </summary>
    public int MaxInflight { get; init; } = 1000;

    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// Most messages one <see cref="MqttClient.MessageBatchHandler"/> call receives (1–65,535; 1 turns batching
    /// off while keeping the batch API). The client never waits to fill a batch; it takes what is queued.
    /// </summary>
    public int MaxMessageBatchSize { get; init; } = 256;

    internal void Validate()
    {
        if (KeepAlive < TimeSpan.Zero || KeepAlive.TotalSeconds > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(KeepAlive), KeepAlive, "Keepalive must be between 0 and 65,535 seconds.");
        }

        if (MaxInflight is < 1 or > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxInflight), MaxInflight, "MaxInflight must be between 1 and 65,535.");
        }

        if (MaxMessageBatchSize is < 1 or > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMessageBatchSize), MaxMessageBatchSize, "MaxMessageBatchSize must be between 1 and 65,535.");
        }

        if (ReceiveMaximum == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ReceiveMaximum), "Receive Maximum must be at least 1 (MQTT 5 §3.1.2.11.3).");
        }

        if (Will is { } will && !MqttTopic.IsValidTopicName(will.Topic))
        {
            throw new ArgumentException($"Will topic '{will.Topic}' is not a valid topic name.", nameof(Will));
        }

        if (ProtocolVersion == MqttProtocolVersion.V311 && ClientId.Length == 0 && !CleanStart)
        {
            throw new ArgumentException("MQTT 3.1.1 needs a client id for a persistent session (CleanStart=false).", nameof(ClientId));
        }
    }
}
