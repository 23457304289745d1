using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Mqtt.Wire;

/// <summary>
/// Encodes and decodes control packets for one protocol version. One instance per connection:
/// it owns scratch buffers, so it is not thread safe (the connection's single writer loop encodes,
/// its single reader loop decodes; <see cref="Decode"/> uses no shared state and may run
/// concurrently with <see cref="Encode"/>).
/// </summary>
internal abstract class MqttPacketCodec : IDisposable
{
    private readonly MqttBufferWriter _body = new(1024);

    public abstract MqttProtocolVersion Version { get; }

    public static MqttPacketCodec Create(MqttProtocolVersion version) => version switch
    {
        MqttProtocolVersion.V500 => new V5PacketCodec(),
        MqttProtocolVersion.V311 => new V311PacketCodec(),
        _ => throw new ArgumentOutOfRangeException(nameof(version), version, "Supported MQTT versions are 3.1.1 (4) and 5.0 (5)."),
    };

    /// <summary>Appends the complete packet (fixed header + body) to <paramref name="output"/>.</summary>
    /// <exception cref="ArgumentException">The packet cannot be represented (string too long, option not in this version).</exception>
    public void Encode(MqttPacket packet, MqttBufferWriter output)
    {
        _body.Reset();
        byte header = EncodeBody(packet, _body);
        if ((uint)_body.Length > VariableByteInteger.MaxValue)
        {
            throw new ArgumentException($"{packet.Type} packet of {_body.Length} bytes exceeds the MQTT limit of 268,435,455.", nameof(packet));
        }

        output.WriteByte(header);
        output.WriteVariableByteInteger((uint)_body.Length);
        output.WriteBytes(_body.WrittenSpan);
    }

    /// <summary>Decodes one packet body whose frame was found by <see cref="MqttFrame"/>.</summary>
    /// <exception cref="MqttProtocolException">Malformed packet or protocol violation.</exception>
    public MqttPacket Decode(byte fixedHeader, ReadOnlySpan<byte> body)
    {
        var type = (MqttPacketType)(fixedHeader >> 4);
        int flags = fixedHeader & 0x0F;
        if (type == 0)
        {
            throw MqttProtocolException.Malformed("packet type 0 is reserved");
        }

        if (type != MqttPacketType.Publish)
        {
            // §2.1.3: PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0b0010; every other type 0b0000.
            int expected = type is MqttPacketType.PubRel or MqttPacketType.Subscribe or MqttPacketType.Unsubscribe ? 2 : 0;
            if (flags != expected)
            {
                throw MqttProtocolException.Malformed($"{type} fixed header flags 0x{flags:X} (expected 0x{expected:X})");
            }
        }

        var reader = new MqttBufferReader(body);
        MqttPacket packet = type switch
        {
            MqttPacketType.Connect => DecodeConnect(ref reader),
            MqttPacketType.ConnAck => DecodeConnAck(ref reader),
            MqttPacketType.Publish => DecodePublish(flags, ref reader),
            MqttPacketType.PubAck or MqttPacketType.PubRec or MqttPacketType.PubRel or MqttPacketType.PubComp => DecodePublishResponse(type, ref reader),
            MqttPacketType.Subscribe => DecodeSubscribe(ref reader),
            MqttPacketType.SubAck => DecodeSubAck(ref reader),
            MqttPacketType.Unsubscribe => DecodeUnsubscribe(ref reader),
            MqttPacketType.UnsubAck => DecodeUnsubAck(ref reader),
            MqttPacketType.PingReq => PingReqPacket.Instance,
            MqttPacketType.PingResp => PingRespPacket.Instance,
            MqttPacketType.Disconnect => DecodeDisconnect(ref reader),
            _ => throw MqttProtocolException.Violation($"{type} packets are not supported (no AUTH method was negotiated)"),
        };

        if (!reader.End)
        {
            throw MqttProtocolException.Malformed($"{type} packet has {reader.Remaining} unexpected trailing bytes");
        }

        return packet;
    }

    public virtual void Dispose() => _body.Dispose();

    protected abstract byte EncodeBody(MqttPacket packet, MqttBufferWriter body);

    protected abstract ConnectPacket DecodeConnect(ref MqttBufferReader reader);

    protected abstract ConnAckPacket DecodeConnAck(ref MqttBufferReader reader);

    protected abstract PublishPacket DecodePublish(int flags, ref MqttBufferReader reader);

    protected abstract PublishResponsePacket DecodePublishResponse(MqttPacketType type, ref MqttBufferReader reader);

    protected abstract SubscribePacket DecodeSubscribe(ref MqttBufferReader reader);

    protected abstract SubAckPacket DecodeSubAck(ref MqttBufferReader reader);

    protected abstract UnsubscribePacket DecodeUnsubscribe(ref MqttBufferReader reader);

    protected abstract UnsubAckPacket DecodeUnsubAck(ref MqttBufferReader reader);

    protected abstract DisconnectPacket DecodeDisconnect(ref MqttBufferReader reader);

    // ---- rules shared by both versions -------------------------------------------------------

    /// <summary>
    /// Keeps "absent" absent: the implicit byte[] → ReadOnlyMemory conversion turns a null array
    /// into an empty (present) value, which would re-encode an absent field.
    /// </summary>
    protected static ReadOnlyMemory<byte>? Optional(byte[]? bytes) => bytes is null ? (ReadOnlyMemory<byte>?)null : new ReadOnlyMemory<byte>(bytes);

    protected static byte PublishHeader(PublishPacket p)
    {
        if (p.QoS > MqttQualityOfService.ExactlyOnce)
        {
            throw new ArgumentException($"QoS {(int)p.QoS} does not exist.", nameof(p));
        }

        if (p.QoS != MqttQualityOfService.AtMostOnce && p.PacketId == 0)
        {
            throw new ArgumentException("A QoS 1/2 PUBLISH needs a non-zero packet identifier (MQTT §2.2.1).", nameof(p));
        }

        return (byte)(0x30 | (p.Dup ? 0x08 : 0) | ((int)p.QoS << 1) | (p.Retain ? 1 : 0));
    }

    /// <summary>§3.3.1: QoS 3 is malformed, and DUP must be 0 for QoS 0.</summary>
    protected static (MqttQualityOfService QoS, bool Dup, bool Retain) ReadPublishFlags(int flags)
    {
        int qos = (flags >> 1) & 3;
        bool dup = (flags & 8) != 0;
        if (qos == 3)
        {
            throw MqttProtocolException.Malformed("PUBLISH with QoS 3");
        }

        if (qos == 0 && dup)
        {
            throw MqttProtocolException.Malformed("PUBLISH with QoS 0 and DUP set");
        }

        return ((MqttQualityOfService)qos, dup, (flags & 1) != 0);
    }

    protected static ushort ReadPacketId(ref MqttBufferReader reader, string what)
    {
        ushort id = reader.ReadUInt16();
        if (id == 0)
        {
            throw MqttProtocolException.Malformed($"{what} with packet identifier 0 (§2.2.1)");
        }

        return id;
    }

    /// <summary>§4.7.3: topic names in PUBLISH must not contain wildcard characters.</summary>
    protected static void CheckPublishTopic(string topic)
    {
        if (topic.AsSpan().IndexOfAny('+', '#') >= 0)
        {
            throw new MqttProtocolException(MqttReasonCode.TopicNameInvalid, $"PUBLISH topic '{topic}' contains a wildcard");
        }
    }

    protected static void CheckEncodableTopic(PublishPacket p, bool allowEmpty)
    {
        if (p.Topic.Length == 0 && !allowEmpty)
        {
            throw new ArgumentException("A PUBLISH topic must not be empty.", nameof(p));
        }

        if (p.Topic.AsSpan().IndexOfAny('+', '#') >= 0)
        {
            throw new ArgumentException($"PUBLISH topic '{p.Topic}' must not contain '+' or '#' (MQTT §4.7.3).", nameof(p));
        }
    }

    protected static byte SubscriptionOptionsByte(MqttTopicSubscription s, bool v5)
    {
        if (s.MaximumQoS > MqttQualityOfService.ExactlyOnce || s.RetainHandling > MqttRetainHandling.DoNotSend)
        {
            throw new ArgumentException($"Invalid QoS or retain handling for '{s.TopicFilter}'.", nameof(s));
        }

        if (!v5 && (s.NoLocal || s.RetainAsPublished || s.RetainHandling != MqttRetainHandling.SendAtSubscribe))
        {
            throw new ArgumentException($"Subscription '{s.TopicFilter}' uses No Local / Retain As Published / Retain Handling, which need MQTT 5.", nameof(s));
        }

        return (byte)((int)s.MaximumQoS | (s.NoLocal ? 4 : 0) | (s.RetainAsPublished ? 8 : 0) | ((int)s.RetainHandling << 4));
    }

    protected static MqttTopicSubscription ReadSubscriptionOptions(string filter, byte options, bool v5)
    {
        int reservedMask = v5 ? 0xC0 : 0xFC;
        if ((options & reservedMask) != 0)
        {
            throw MqttProtocolException.Malformed($"subscription options 0x{options:X2} set reserved bits");
        }

        int qos = options & 3;
        int retainHandling = (options >> 4) & 3;
        if (qos == 3 || retainHandling == 3)
        {
            throw MqttProtocolException.Malformed($"subscription options 0x{options:X2}: QoS or Retain Handling is 3");
        }

        return new MqttTopicSubscription(filter, (MqttQualityOfService)qos, (options & 4) != 0, (options & 8) != 0, (MqttRetainHandling)retainHandling);
    }

    protected static void CheckFilter(string filter)
    {
        if (!MqttTopic.IsValidTopicFilter(filter))
        {
            throw new MqttProtocolException(MqttReasonCode.TopicFilterInvalid, $"topic filter '{filter}' is invalid");
        }
    }
}
