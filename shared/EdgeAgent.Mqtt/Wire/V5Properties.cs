using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Mqtt.Wire;

/// <summary>Property identifiers (MQTT 5 §2.2.2.2).</summary>
internal static class V5PropertyId
{
    public const byte PayloadFormatIndicator = 1;
    public const byte MessageExpiryInterval = 2;
    public const byte ContentType = 3;
    public const byte ResponseTopic = 8;
    public const byte CorrelationData = 9;
    public const byte SubscriptionIdentifier = 11;
    public const byte SessionExpiryInterval = 17;
    public const byte AssignedClientIdentifier = 18;
    public const byte ServerKeepAlive = 19;
    public const byte AuthenticationMethod = 21;
    public const byte AuthenticationData = 22;
    public const byte RequestProblemInformation = 23;
    public const byte WillDelayInterval = 24;
    public const byte RequestResponseInformation = 25;
    public const byte ResponseInformation = 26;
    public const byte ServerReference = 28;
    public const byte ReasonString = 31;
    public const byte ReceiveMaximum = 33;
    public const byte TopicAliasMaximum = 34;
    public const byte TopicAlias = 35;
    public const byte MaximumQoS = 36;
    public const byte RetainAvailable = 37;
    public const byte UserProperty = 38;
    public const byte MaximumPacketSize = 39;
    public const byte WildcardSubscriptionAvailable = 40;
    public const byte SubscriptionIdentifierAvailable = 41;
    public const byte SharedSubscriptionAvailable = 42;
}

/// <summary>Which properties a packet may carry (MQTT 5 §2.2.2.2 table).</summary>
internal enum V5PropertyContext
{
    Connect,
    Will,
    ConnAck,
    Publish,
    PublishResponse,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
}

/// <summary>
/// The decoded property block of one packet. Enforces the rules every property shares: only the
/// identifiers allowed for the packet, each at most once except User Property and (in PUBLISH)
/// Subscription Identifier, and the value ranges the spec calls protocol errors.
/// </summary>
internal struct V5Properties
{
    public byte? PayloadFormatIndicator;
    public uint? MessageExpiryInterval;
    public string? ContentType;
    public string? ResponseTopic;
    public byte[]? CorrelationData;
    public List<uint>? SubscriptionIdentifiers;
    public uint? SessionExpiryInterval;
    public string? AssignedClientIdentifier;
    public ushort? ServerKeepAlive;
    public byte? RequestProblemInformation;
    public uint? WillDelayInterval;
    public byte? RequestResponseInformation;
    public string? ResponseInformation;
    public string? ServerReference;
    public string? ReasonString;
    public ushort? ReceiveMaximum;
    public ushort? TopicAliasMaximum;
    public ushort? TopicAlias;
    public byte? MaximumQoS;
    public byte? RetainAvailable;
    public List<MqttUserProperty>? UserProperties;
    public uint? MaximumPacketSize;
    public byte? WildcardSubscriptionAvailable;
    public byte? SubscriptionIdentifierAvailable;
    public byte? SharedSubscriptionAvailable;

    public readonly IReadOnlyList<MqttUserProperty> UserPropertyList => (IReadOnlyList<MqttUserProperty>?)UserProperties ?? [];

    private static ulong Mask(params byte[] ids)
    {
        ulong mask = 1UL << V5PropertyId.UserProperty;
        foreach (byte id in ids)
        {
            mask |= 1UL << id;
        }

        return mask;
    }

    private static readonly ulong[] Allowed =
    [
        Mask(V5PropertyId.SessionExpiryInterval, V5PropertyId.ReceiveMaximum, V5PropertyId.MaximumPacketSize, V5PropertyId.TopicAliasMaximum,
            V5PropertyId.RequestResponseInformation, V5PropertyId.RequestProblemInformation),
        Mask(V5PropertyId.WillDelayInterval, V5PropertyId.PayloadFormatIndicator, V5PropertyId.MessageExpiryInterval, V5PropertyId.ContentType,
            V5PropertyId.ResponseTopic, V5PropertyId.CorrelationData),
        Mask(V5PropertyId.SessionExpiryInterval, V5PropertyId.ReceiveMaximum, V5PropertyId.MaximumQoS, V5PropertyId.RetainAvailable,
            V5PropertyId.MaximumPacketSize, V5PropertyId.AssignedClientIdentifier, V5PropertyId.TopicAliasMaximum, V5PropertyId.ReasonString,
            V5PropertyId.WildcardSubscriptionAvailable, V5PropertyId.SubscriptionIdentifierAvailable, V5PropertyId.SharedSubscriptionAvailable,
            V5PropertyId.ServerKeepAlive, V5PropertyId.ResponseInformation, V5PropertyId.ServerReference),
        Mask(V5PropertyId.PayloadFormatIndicator, V5PropertyId.MessageExpiryInterval, V5PropertyId.TopicAlias, V5PropertyId.ResponseTopic,
            V5PropertyId.CorrelationData, V5PropertyId.SubscriptionIdentifier, V5PropertyId.ContentType),
        Mask(V5PropertyId.ReasonString),
        Mask(V5PropertyId.SubscriptionIdentifier),
        Mask(V5PropertyId.ReasonString),
        Mask(),
        Mask(V5PropertyId.ReasonString),
        Mask(V5PropertyId.SessionExpiryInterval, V5PropertyId.ReasonString, V5PropertyId.ServerReference),
    ];

    /// <summary>Reads the Property Length and the properties that follow it.</summary>
    public static V5Properties Read(ref MqttBufferReader reader, V5PropertyContext context)
    {
        uint length = reader.ReadVariableByteInteger();
        if (length > (uint)reader.Remaining)
        {
            throw MqttProtocolException.Malformed($"property length {length} exceeds the {reader.Remaining} bytes left in the packet");
        }

        var block = new MqttBufferReader(reader.ReadBytes((int)length, "properties"));
        var p = new V5Properties();
        ulong seen = 0;
        ulong allowed = Allowed[(int)context];
        while (!block.End)
        {
            // Identifiers are Variable Byte Integers, but every defined one fits in one byte.
            uint id = block.ReadVariableByteInteger();
            if (id >= 64 || (allowed & (1UL << (int)id)) == 0)
            {
                throw MqttProtocolException.Violation($"property {id} is not allowed in {context}");
            }

            bool repeatable = id == V5PropertyId.UserProperty || (id == V5PropertyId.SubscriptionIdentifier && context == V5PropertyContext.Publish);
            if (!repeatable && (seen & (1UL << (int)id)) != 0)
            {
                throw MqttProtocolException.Violation($"property {id} appears twice in {context}");
            }

            seen |= 1UL << (int)id;
            switch (id)
            {
                case V5PropertyId.PayloadFormatIndicator: p.PayloadFormatIndicator = ReadFlag(ref block, "Payload Format Indicator"); break;
                case V5PropertyId.MessageExpiryInterval: p.MessageExpiryInterval = block.ReadUInt32(); break;
                case V5PropertyId.ContentType: p.ContentType = block.ReadString(); break;
                case V5PropertyId.ResponseTopic:
                    p.ResponseTopic = block.ReadString();
                    if (p.ResponseTopic.Length == 0 || p.ResponseTopic.AsSpan().IndexOfAny('+', '#') >= 0)
                    {
                        throw MqttProtocolException.Violation($"Response Topic '{p.ResponseTopic}' is not a valid topic name");
                    }

                    break;
                case V5PropertyId.CorrelationData: p.CorrelationData = block.ReadBinary(); break;
                case V5PropertyId.SubscriptionIdentifier:
                    uint subId = block.ReadVariableByteInteger();
                    if (subId == 0)
                    {
                        throw MqttProtocolException.Violation("Subscription Identifier 0");
                    }

                    (p.SubscriptionIdentifiers ??= []).Add(subId);
                    break;
                case V5PropertyId.SessionExpiryInterval: p.SessionExpiryInterval = block.ReadUInt32(); break;
                case V5PropertyId.AssignedClientIdentifier: p.AssignedClientIdentifier = block.ReadString(); break;
                case V5PropertyId.ServerKeepAlive: p.ServerKeepAlive = block.ReadUInt16(); break;
                case V5PropertyId.RequestProblemInformation: p.RequestProblemInformation = ReadFlag(ref block, "Request Problem Information"); break;
                case V5PropertyId.WillDelayInterval: p.WillDelayInterval = block.ReadUInt32(); break;
                case V5PropertyId.RequestResponseInformation: p.RequestResponseInformation = ReadFlag(ref block, "Request Response Information"); break;
                case V5PropertyId.ResponseInformation: p.ResponseInformation = block.ReadString(); break;
                case V5PropertyId.ServerReference: p.ServerReference = block.ReadString(); break;
                case V5PropertyId.ReasonString: p.ReasonString = block.ReadString(); break;
                case V5PropertyId.ReceiveMaximum:
                    p.ReceiveMaximum = block.ReadUInt16();
                    if (p.ReceiveMaximum == 0)
                    {
                        throw MqttProtocolException.Violation("Receive Maximum 0 (§3.1.2.11.3)");
                    }

                    break;
                case V5PropertyId.TopicAliasMaximum: p.TopicAliasMaximum = block.ReadUInt16(); break;
                case V5PropertyId.TopicAlias:
                    p.TopicAlias = block.ReadUInt16();
                    if (p.TopicAlias == 0)
                    {
                        throw new MqttProtocolException(MqttReasonCode.TopicAliasInvalid, "Topic Alias 0 (§3.3.2.3.4)");
                    }

                    break;
                case V5PropertyId.MaximumQoS: p.MaximumQoS = ReadFlag(ref block, "Maximum QoS"); break;
                case V5PropertyId.RetainAvailable: p.RetainAvailable = ReadFlag(ref block, "Retain Available"); break;
                case V5PropertyId.UserProperty:
                    string name = block.ReadString();
                    string value = block.ReadString();
                    (p.UserProperties ??= []).Add(new MqttUserProperty(name, value));
                    break;
                case V5PropertyId.MaximumPacketSize:
                    p.MaximumPacketSize = block.ReadUInt32();
                    if (p.MaximumPacketSize == 0)
                    {
                        throw MqttProtocolException.Violation("Maximum Packet Size 0 (§3.1.2.11.4)");
                    }

                    break;
                case V5PropertyId.WildcardSubscriptionAvailable: p.WildcardSubscriptionAvailable = ReadFlag(ref block, "Wildcard Subscription Available"); break;
                case V5PropertyId.SubscriptionIdentifierAvailable: p.SubscriptionIdentifierAvailable = ReadFlag(ref block, "Subscription Identifier Available"); break;
                case V5PropertyId.SharedSubscriptionAvailable: p.SharedSubscriptionAvailable = ReadFlag(ref block, "Shared Subscription Available"); break;
                default: throw MqttProtocolException.Violation($"property {id} is not allowed in {context}");
            }
        }

        return p;
    }

    private static byte ReadFlag(ref MqttBufferReader reader, string name)
    {
        byte value = reader.ReadByte();
        if (value > 1)
        {
            throw MqttProtocolException.Violation($"{name} must be 0 or 1, got {value}");
        }

        return value;
    }
}

/// <summary>Writes properties into a scratch buffer, then prefixes them with their length.</summary>
internal sealed class V5PropertyWriter : IDisposable
{
    private readonly MqttBufferWriter _props = new(256);

    public V5PropertyWriter Begin()
    {
        _props.Reset();
        return this;
    }

    public void Byte(byte id, byte? value)
    {
        if (value is { } v)
        {
            _props.WriteByte(id);
            _props.WriteByte(v);
        }
    }

    public void UInt16(byte id, ushort? value)
    {
        if (value is { } v)
        {
            _props.WriteByte(id);
            _props.WriteUInt16(v);
        }
    }

    public void UInt32(byte id, uint? value)
    {
        if (value is { } v)
        {
            _props.WriteByte(id);
            _props.WriteUInt32(v);
        }
    }

    public void Vbi(byte id, uint value)
    {
        _props.WriteByte(id);
        _props.WriteVariableByteInteger(value);
    }

    public void String(byte id, string? value)
    {
        if (value is not null)
        {
            _props.WriteByte(id);
            _props.WriteString(value);
        }
    }

    public void Binary(byte id, ReadOnlyMemory<byte>? value)
    {
        if (value is { } v)
        {
            _props.WriteByte(id);
            _props.WriteBinary(v.Span);
        }
    }

    public void User(IReadOnlyList<MqttUserProperty> properties)
    {
        for (int i = 0; i < properties.Count; i++)
        {
            _props.WriteByte(V5PropertyId.UserProperty);
            _props.WriteString(properties[i].Name);
            _props.WriteString(properties[i].Value);
        }
    }

    public bool IsEmpty => _props.Length == 0;

    /// <summary>Appends Property Length + properties to <paramref name="body"/>.</summary>
    public void CopyTo(MqttBufferWriter body)
    {
        body.WriteVariableByteInteger((uint)_props.Length);
        body.WriteBytes(_props.WrittenSpan);
    }

    public void Dispose() => _props.Dispose();
}
