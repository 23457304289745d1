using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Mqtt;

/// <summary>
/// An application message, sent or received. Immutable. MQTT 5 properties are ignored (not sent)
/// on a 3.1.1 connection.
/// </summary>
public sealed record MqttApplicationMessage
{
    public required string Topic { get; init; }
    public ReadOnlyMemory<byte> Payload { get; init; }
    public MqttQualityOfService QoS { get; init; } = MqttQualityOfService.AtLeastOnce;
    public bool Retain { get; init; }
    /// <summary>Payload Format Indicator 1: the payload is UTF-8 text (MQTT 5 §3.3.2.3.2).</summary>
    public bool PayloadIsUtf8 { get; init; }
    public string? ContentType { get; init; }
    /// <summary>Seconds after which the broker drops the message if undelivered.</summary>
    public uint? MessageExpiryInterval { get; init; }
    public string? ResponseTopic { get; init; }
    public ReadOnlyMemory<byte>? CorrelationData { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];

    /// <summary>Received only: the broker marked this as a possible redelivery.</summary>
    public bool Duplicate { get; init; }

    /// <summary>Received only: identifiers of the subscriptions that matched (MQTT 5 §3.3.2.3.8).</summary>
    public IReadOnlyList<uint> SubscriptionIdentifiers { get; init; } = [];

    /// <summary>Builds the reply to a request: its Response Topic, with the same Correlation Data.</summary>
    /// <exception cref="ArgumentException">The request has no Response Topic.</exception>
    public static MqttApplicationMessage ResponseTo(MqttApplicationMessage request, ReadOnlyMemory<byte> payload)
    {
        if (request.ResponseTopic is null)
        {
            throw new ArgumentException($"The request on '{request.Topic}' has no Response Topic, so it cannot be answered.", nameof(request));
        }

        return new MqttApplicationMessage
        {
            Topic = request.ResponseTopic,
            Payload = payload,
            QoS = request.QoS,
            CorrelationData = request.CorrelationData,
        };
    }

    internal PublishPacket ToPacket(ushort packetId) => new()
    {
        Topic = Topic,
        Payload = Payload,
        QoS = QoS,
        Retain = Retain,
        PacketId = packetId,
        PayloadFormatIndicator = PayloadIsUtf8 ? (byte)1 : null,
        ContentType = ContentType,
        MessageExpiryInterval = MessageExpiryInterval,
        ResponseTopic = ResponseTopic,
        CorrelationData = CorrelationData,
        UserProperties = UserProperties,
    };

    internal static MqttApplicationMessage FromPacket(PublishPacket p) => new()
    {
        Topic = p.Topic,
        Payload = p.Payload,
        QoS = p.QoS,
        Retain = p.Retain,
        Duplicate = p.Dup,
        PayloadIsUtf8 = p.PayloadFormatIndicator == 1,
        ContentType = p.ContentType,
        MessageExpiryInterval = p.MessageExpiryInterval,
        ResponseTopic = p.ResponseTopic,
        CorrelationData = p.CorrelationData,
        UserProperties = p.UserProperties,
        SubscriptionIdentifiers = p.SubscriptionIdentifiers,
    };
}

/// <summary>Outcome of a publish. QoS 0: handed to the socket writer. QoS 1: PUBACK. QoS 2: PUBCOMP.</summary>
public readonly record struct MqttPublishResult(MqttReasonCode ReasonCode, string? ReasonString = null);

/// <summary>Per-filter outcome of SUBSCRIBE (granted QoS or failure) or UNSUBSCRIBE.</summary>
public sealed record MqttSubscribeResult(IReadOnlyList<MqttReasonCode> ReasonCodes, string? ReasonString)
{
    public bool AllSucceeded => ReasonCodes.All(c => c < MqttReasonCode.UnspecifiedError);
}

/// <summary>What the broker told us in CONNACK (MQTT 5 §3.2.2.3); absent properties mean the spec default.</summary>
public sealed record MqttConnectResult
{
    public bool SessionPresent { get; init; }
    public MqttReasonCode ReasonCode { get; init; }
    public string? AssignedClientIdentifier { get; init; }
    /// <summary>Keepalive the broker imposes (overrides ours), in seconds.</summary>
    public ushort? ServerKeepAlive { get; init; }
    /// <summary>The broker's Receive Maximum: our in-flight QoS 1/2 limit (default 65,535).</summary>
    public ushort ReceiveMaximum { get; init; } = ushort.MaxValue;
    public MqttQualityOfService MaximumQoS { get; init; } = MqttQualityOfService.ExactlyOnce;
    public bool RetainAvailable { get; init; } = true;
    public uint? MaximumPacketSize { get; init; }
    public ushort TopicAliasMaximum { get; init; }
    public uint? SessionExpiryInterval { get; init; }
    public bool WildcardSubscriptionAvailable { get; init; } = true;
    public bool SubscriptionIdentifiersAvailable { get; init; } = true;
    public bool SharedSubscriptionAvailable { get; init; } = true;
    public string? ReasonString { get; init; }
    public string? ResponseInformation { get; init; }
    public string? ServerReference { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];

    internal static MqttConnectResult From(ConnAckPacket a) => new()
    {
        SessionPresent = a.SessionPresent,
        ReasonCode = a.ReasonCode,
        AssignedClientIdentifier = a.AssignedClientIdentifier,
        ServerKeepAlive = a.ServerKeepAlive,
        ReceiveMaximum = a.ReceiveMaximum ?? ushort.MaxValue,
        MaximumQoS = a.MaximumQoS ?? MqttQualityOfService.ExactlyOnce,
        RetainAvailable = a.RetainAvailable ?? true,
        MaximumPacketSize = a.MaximumPacketSize,
        TopicAliasMaximum = a.TopicAliasMaximum ?? 0,
        SessionExpiryInterval = a.SessionExpiryInterval,
        WildcardSubscriptionAvailable = a.WildcardSubscriptionAvailable ?? true,
        SubscriptionIdentifiersAvailable = a.SubscriptionIdentifiersAvailable ?? true,
        SharedSubscriptionAvailable = a.SharedSubscriptionAvailable ?? true,
        ReasonString = a.ReasonString,
        ResponseInformation = a.ResponseInformation,
        ServerReference = a.ServerReference,
        UserProperties = a.UserProperties,
    };
}

/// <summary>Connection life cycle as seen by the application.</summary>
public enum MqttConnectionState
{
    Disconnected,
    Connecting,
    Connected,
    Reconnecting,
    Closed,
}

/// <summary>A state transition; <see cref="Reason"/> says why a connection ended, if it did.</summary>
public sealed class MqttConnectionStateChangedEventArgs(MqttConnectionState state, Exception? reason, MqttConnectResult? connectResult) : EventArgs
{
    public MqttConnectionState State { get; } = state;
    public Exception? Reason { get; } = reason;
    /// <summary>Set when <see cref="State"/> is Connected.</summary>
    public MqttConnectResult? ConnectResult { get; } = connectResult;
}
