using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Mqtt.Wire;

/// <summary>
/// MQTT 3.1.1 encoder/decoder (OASIS MQTT Version 3.1.1). There are no properties: MQTT 5-only
/// fields of the packet records are refused when they would change behaviour (subscription options,
/// reason codes on acknowledgements) and otherwise ignored. CONNACK return codes 1–5 and SUBACK 0x80
/// are translated into the MQTT 5 reason codes with the same meaning.
/// </summary>
internal sealed class V311PacketCodec : MqttPacketCodec
{
    public override MqttProtocolVersion Version => MqttProtocolVersion.V311;

    protected override byte EncodeBody(MqttPacket packet, MqttBufferWriter body)
    {
        switch (packet)
        {
            case PublishPacket p:
                CheckEncodableTopic(p, allowEmpty: false);
                byte header = PublishHeader(p);
                body.WriteString(p.Topic);
                if (p.QoS != MqttQualityOfService.AtMostOnce)
                {
                    body.WriteUInt16(p.PacketId);
                }

                body.WriteBytes(p.Payload.Span);
                return header;

            case PublishResponsePacket r:
                // 3.1.1 acknowledgements cannot carry a failure: refusing to acknowledge is the only option.
                if (r.ReasonCode >= MqttReasonCode.UnspecifiedError)
                {
                    throw new ArgumentException($"MQTT 3.1.1 cannot send {r.Kind} with reason {r.ReasonCode}.", nameof(packet));
                }

                body.WriteUInt16(r.PacketId);
                return (byte)(((int)r.Kind << 4) | (r.Kind == MqttPacketType.PubRel ? 2 : 0));

            case ConnectPacket c:
                EncodeConnect(c, body);
                return 0x10;

            case ConnAckPacket a:
                body.WriteByte(a.SessionPresent ? (byte)1 : (byte)0);
                body.WriteByte(ToReturnCode(a.ReasonCode));
                return 0x20;

            case SubscribePacket s:
                if (s.Subscriptions.Count == 0)
                {
                    throw new ArgumentException("SUBSCRIBE needs at least one topic filter (§3.8.3).", nameof(packet));
                }

                if (s.SubscriptionIdentifier != 0)
                {
                    throw new ArgumentException("Subscription identifiers need MQTT 5.", nameof(packet));
                }

                body.WriteUInt16(s.PacketId);
                foreach (MqttTopicSubscription sub in s.Subscriptions)
                {
                    body.WriteString(sub.TopicFilter);
                    body.WriteByte(SubscriptionOptionsByte(sub, v5: false));
                }

                return 0x82;

            case SubAckPacket sa:
                body.WriteUInt16(sa.PacketId);
                foreach (MqttReasonCode code in sa.ReasonCodes)
                {
                    body.WriteByte(code <= MqttReasonCode.GrantedQoS2 ? (byte)code : (byte)0x80);
                }

                return 0x90;

            case UnsubscribePacket u:
                if (u.TopicFilters.Count == 0)
                {
                    throw new ArgumentException("UNSUBSCRIBE needs at least one topic filter (§3.10.3).", nameof(packet));
                }

                body.WriteUInt16(u.PacketId);
                foreach (string filter in u.TopicFilters)
                {
                    body.WriteString(filter);
                }

                return 0xA2;

            case UnsubAckPacket ua:
                body.WriteUInt16(ua.PacketId);
                return 0xB0;

            case PingReqPacket:
                return 0xC0;

            case PingRespPacket:
                return 0xD0;

            case DisconnectPacket:
                // 3.1.1 DISCONNECT has no reason: a normal disconnect discards the Will, which is
                // the only thing it can say.
                return 0xE0;

            default:
                throw new ArgumentException($"Cannot encode {packet.Type}.", nameof(packet));
        }
    }

    private static void EncodeConnect(ConnectPacket c, MqttBufferWriter body)
    {
        if (c.Password is not null && c.Username is null)
        {
            throw new ArgumentException("MQTT 3.1.1 does not allow a password without a user name (§3.1.2.9).", nameof(c));
        }

        ConnectHeader.Write(body, c, protocolLevel: 4);
        body.WriteString(c.ClientId);
        if (c.Will is { } w)
        {
            if (w.Topic.Length == 0 || w.Topic.AsSpan().IndexOfAny('+', '#') >= 0)
            {
                throw new ArgumentException($"Will topic '{w.Topic}' must be a non-empty topic name without wildcards.", nameof(c));
            }

            body.WriteString(w.Topic);
            body.WriteBinary(w.Payload.Span);
        }

        if (c.Username is not null)
        {
            body.WriteString(c.Username);
        }

        if (c.Password is { } password)
        {
            body.WriteBinary(password.Span);
        }
    }

    /// <summary>3.1.1 §3.2.2.3 return codes ↔ MQTT 5 reason codes.</summary>
    internal static MqttReasonCode FromReturnCode(byte code) => code switch
    {
        0 => MqttReasonCode.Success,
        1 => MqttReasonCode.UnsupportedProtocolVersion,
        2 => MqttReasonCode.ClientIdentifierNotValid,
        3 => MqttReasonCode.ServerUnavailable,
        4 => MqttReasonCode.BadUserNameOrPassword,
        5 => MqttReasonCode.NotAuthorized,
        _ => throw MqttProtocolException.Malformed($"CONNACK return code {code} does not exist in MQTT 3.1.1"),
    };

    private static byte ToReturnCode(MqttReasonCode code) => code switch
    {
        MqttReasonCode.Success => 0,
        MqttReasonCode.UnsupportedProtocolVersion => 1,
        MqttReasonCode.ClientIdentifierNotValid => 2,
        MqttReasonCode.BadUserNameOrPassword => 4,
        MqttReasonCode.NotAuthorized or MqttReasonCode.Banned => 5,
        _ => 3,
    };

    protected override ConnectPacket DecodeConnect(ref MqttBufferReader reader)
    {
        ConnectHeader.ReadProtocol(ref reader, protocolLevel: 4, decoder: "MQTT 3.1.1");

        byte flags = reader.ReadByte();
        bool willFlag = (flags & 0x04) != 0;
        int willQoS = (flags >> 3) & 3;
        bool willRetain = (flags & 0x20) != 0;
        if ((flags & 1) != 0 || willQoS == 3 || (!willFlag && (willQoS != 0 || willRetain)) || ((flags & 0x40) != 0 && (flags & 0x80) == 0))
        {
            throw MqttProtocolException.Malformed($"CONNECT flags 0x{flags:X2} are inconsistent (§3.1.2)");
        }

        ushort keepAlive = reader.ReadUInt16();
        string clientId = reader.ReadString();
        MqttWill? will = null;
        if (willFlag)
        {
            string topic = reader.ReadString();
            CheckPublishTopic(topic);
            will = new MqttWill { Topic = topic, Payload = reader.ReadBinary(), QoS = (MqttQualityOfService)willQoS, Retain = willRetain };
        }

        string? username = (flags & 0x80) != 0 ? reader.ReadString() : null;
        byte[]? password = (flags & 0x40) != 0 ? reader.ReadBinary() : null;
        return new ConnectPacket
        {
            ClientId = clientId,
            CleanStart = (flags & 0x02) != 0,
            KeepAliveSeconds = keepAlive,
            Username = username,
            Password = Optional(password),
            Will = will,
        };
    }

    protected override ConnAckPacket DecodeConnAck(ref MqttBufferReader reader)
    {
        byte ackFlags = reader.ReadByte();
        if ((ackFlags & 0xFE) != 0)
        {
            throw MqttProtocolException.Malformed("CONNACK acknowledge flags set reserved bits (§3.2.2.1)");
        }

        MqttReasonCode reason = FromReturnCode(reader.ReadByte());
        if ((ackFlags & 1) != 0 && reason != MqttReasonCode.Success)
        {
            throw MqttProtocolException.Malformed("CONNACK with Session Present and a non-zero return code (§3.2.2.2)");
        }

        return new ConnAckPacket { SessionPresent = (ackFlags & 1) != 0, ReasonCode = reason };
    }

    protected override PublishPacket DecodePublish(int flags, ref MqttBufferReader reader)
    {
        (MqttQualityOfService qos, bool dup, bool retain) = ReadPublishFlags(flags);
        string topic = reader.ReadString();
        if (topic.Length == 0)
        {
            throw MqttProtocolException.Malformed("PUBLISH with an empty topic (§4.7.3)");
        }

        CheckPublishTopic(topic);
        ushort packetId = qos == MqttQualityOfService.AtMostOnce ? (ushort)0 : ReadPacketId(ref reader, "PUBLISH");
        byte[] payload = reader.ReadToEnd().ToArray();
        return new PublishPacket { Topic = topic, Payload = payload, QoS = qos, Dup = dup, Retain = retain, PacketId = packetId };
    }

    protected override PublishResponsePacket DecodePublishResponse(MqttPacketType type, ref MqttBufferReader reader) =>
        new(type, ReadPacketId(ref reader, type.ToString()));

    protected override SubscribePacket DecodeSubscribe(ref MqttBufferReader reader)
    {
        ushort id = ReadPacketId(ref reader, "SUBSCRIBE");
        var subscriptions = new List<MqttTopicSubscription>();
        while (!reader.End)
        {
            string filter = reader.ReadString();
            CheckFilter(filter);
            subscriptions.Add(ReadSubscriptionOptions(filter, reader.ReadByte(), v5: false));
        }

        if (subscriptions.Count == 0)
        {
            throw MqttProtocolException.Violation("SUBSCRIBE without topic filters (§3.8.3)");
        }

        return new SubscribePacket { PacketId = id, Subscriptions = subscriptions };
    }

    protected override SubAckPacket DecodeSubAck(ref MqttBufferReader reader)
    {
        ushort id = ReadPacketId(ref reader, "SUBACK");
        ReadOnlySpan<byte> bytes = reader.ReadToEnd();
        if (bytes.Length == 0)
        {
            throw MqttProtocolException.Violation("SUBACK without return codes");
        }

        var codes = new MqttReasonCode[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            codes[i] = bytes[i] switch
            {
                0 or 1 or 2 => (MqttReasonCode)bytes[i],
                0x80 => MqttReasonCode.UnspecifiedError,
                _ => throw MqttProtocolException.Malformed($"SUBACK return code 0x{bytes[i]:X2} does not exist in MQTT 3.1.1"),
            };
        }

        return new SubAckPacket { PacketId = id, ReasonCodes = codes };
    }

    protected override UnsubscribePacket DecodeUnsubscribe(ref MqttBufferReader reader)
    {
        ushort id = ReadPacketId(ref reader, "UNSUBSCRIBE");
        var filters = new List<string>();
        while (!reader.End)
        {
            string filter = reader.ReadString();
            CheckFilter(filter);
            filters.Add(filter);
        }

        if (filters.Count == 0)
        {
            throw MqttProtocolException.Violation("UNSUBSCRIBE without topic filters (§3.10.3)");
        }

        return new UnsubscribePacket { PacketId = id, TopicFilters = filters };
    }

    protected override UnsubAckPacket DecodeUnsubAck(ref MqttBufferReader reader) =>
        new() { PacketId = ReadPacketId(ref reader, "UNSUBACK") };

    protected override DisconnectPacket DecodeDisconnect(ref MqttBufferReader reader) => new() { ReasonCode = MqttReasonCode.Success };
}
