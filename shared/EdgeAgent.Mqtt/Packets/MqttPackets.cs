namespace EdgeAgent.Mqtt.Packets;

/// <summary>Control packet types, the high nibble of the fixed header (MQTT §2.1.2).</summary>
internal enum MqttPacketType : byte
{
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

/// <summary>
/// A decoded or to-be-encoded control packet. Records are protocol-version neutral: fields that
/// exist only in MQTT 5 are ignored by the 3.1.1 encoder and left at their defaults by its decoder.
/// Immutable; safe to share between threads.
/// </summary>
internal abstract record MqttPacket
{
    public abstract MqttPacketType Type { get; }
}

/// <summary>Will message carried by CONNECT (MQTT 5 §3.1.3.2).</summary>
internal sealed record MqttWill
{
    public required string Topic { get; init; }
    public ReadOnlyMemory<byte> Payload { get; init; }
    public MqttQualityOfService QoS { get; init; }
    public bool Retain { get; init; }
    public uint WillDelayInterval { get; init; }
    public byte? PayloadFormatIndicator { get; init; }
    public uint? MessageExpiryInterval { get; init; }
    public string? ContentType { get; init; }
    public string? ResponseTopic { get; init; }
    public ReadOnlyMemory<byte>? CorrelationData { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

internal sealed record ConnectPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Connect;
    public required string ClientId { get; init; }
    public bool CleanStart { get; init; } = true;
    public ushort KeepAliveSeconds { get; init; }
    public string? Username { get; init; }
    public ReadOnlyMemory<byte>? Password { get; init; }
    public MqttWill? Will { get; init; }
    public uint SessionExpiryInterval { get; init; }
    /// <summary>0 means "not sent" (the protocol default 65535 applies).</summary>
    public ushort ReceiveMaximum { get; init; }
    /// <summary>0 means "not sent" (no limit).</summary>
    public uint MaximumPacketSize { get; init; }
    public ushort TopicAliasMaximum { get; init; }
    public bool RequestResponseInformation { get; init; }
    public bool? RequestProblemInformation { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

internal sealed record ConnAckPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.ConnAck;
    public bool SessionPresent { get; init; }
    public MqttReasonCode ReasonCode { get; init; }
    public uint? SessionExpiryInterval { get; init; }
    public ushort? ReceiveMaximum { get; init; }
    public MqttQualityOfService? MaximumQoS { get; init; }
    public bool? RetainAvailable { get; init; }
    public uint? MaximumPacketSize { get; init; }
    public string? AssignedClientIdentifier { get; init; }
    public ushort? TopicAliasMaximum { get; init; }
    public string? ReasonString { get; init; }
    public bool? WildcardSubscriptionAvailable { get; init; }
    public bool? SubscriptionIdentifiersAvailable { get; init; }
    public bool? SharedSubscriptionAvailable { get; init; }
    public ushort? ServerKeepAlive { get; init; }
    public string? ResponseInformation { get; init; }
    public string? ServerReference { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

internal sealed record PublishPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Publish;
    /// <summary>Empty only when <see cref="TopicAlias"/> refers to an alias set earlier (MQTT 5 §3.3.2.3.4).</summary>
    public required string Topic { get; init; }
    public ReadOnlyMemory<byte> Payload { get; init; }
    public MqttQualityOfService QoS { get; init; }
    public bool Retain { get; init; }
    public bool Dup { get; init; }
    /// <summary>0 for QoS 0.</summary>
    public ushort PacketId { get; init; }
    public byte? PayloadFormatIndicator { get; init; }
    public uint? MessageExpiryInterval { get; init; }
    /// <summary>0 = no alias.</summary>
    public ushort TopicAlias { get; init; }
    public string? ResponseTopic { get; init; }
    public ReadOnlyMemory<byte>? CorrelationData { get; init; }
    public string? ContentType { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
    public IReadOnlyList<uint> SubscriptionIdentifiers { get; init; } = [];
}

/// <summary>PUBACK, PUBREC, PUBREL and PUBCOMP share one layout (MQTT 5 §3.4–§3.7).</summary>
internal sealed record PublishResponsePacket(MqttPacketType Kind, ushort PacketId, MqttReasonCode ReasonCode = MqttReasonCode.Success) : MqttPacket
{
    public override MqttPacketType Type => Kind;
    public string? ReasonString { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

internal sealed record SubscribePacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Subscribe;
    public ushort PacketId { get; init; }
    public required IReadOnlyList<MqttTopicSubscription> Subscriptions { get; init; }
    /// <summary>0 = none (MQTT 5 §3.8.2.1.2, 1..268,435,455).</summary>
    public uint SubscriptionIdentifier { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

internal sealed record SubAckPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.SubAck;
    public ushort PacketId { get; init; }
    public required IReadOnlyList<MqttReasonCode> ReasonCodes { get; init; }
    public string? ReasonString { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

internal sealed record UnsubscribePacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Unsubscribe;
    public ushort PacketId { get; init; }
    public required IReadOnlyList<string> TopicFilters { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

internal sealed record UnsubAckPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.UnsubAck;
    public ushort PacketId { get; init; }
    /// <summary>Empty for MQTT 3.1.1, which has no per-filter result.</summary>
    public IReadOnlyList<MqttReasonCode> ReasonCodes { get; init; } = [];
    public string? ReasonString { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}

internal sealed record PingReqPacket : MqttPacket
{
    public static readonly PingReqPacket Instance = new();
    public override MqttPacketType Type => MqttPacketType.PingReq;
}

internal sealed record PingRespPacket : MqttPacket
{
    public static readonly PingRespPacket Instance = new();
    public override MqttPacketType Type => MqttPacketType.PingResp;
}

internal sealed record DisconnectPacket : MqttPacket
{
    public override MqttPacketType Type => MqttPacketType.Disconnect;
    public MqttReasonCode ReasonCode { get; init; }
    public uint? SessionExpiryInterval { get; init; }
    public string? ReasonString { get; init; }
    public string? ServerReference { get; init; }
    public IReadOnlyList<MqttUserProperty> UserProperties { get; init; } = [];
}
