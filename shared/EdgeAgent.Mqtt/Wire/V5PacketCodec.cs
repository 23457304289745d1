using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Mqtt.Wire;

/// <summary>MQTT 5.0 encoder/decoder (OASIS MQTT Version 5.0, chapter 3).</summary>
internal sealed class V5PacketCodec : MqttPacketCodec
{
    private readonly V5PropertyWriter _props = new();

    public override MqttProtocolVersion Version => MqttProtocolVersion.V500;

    public override void Dispose()
    {
        _props.Dispose();
        base.Dispose();
    }

    protected override byte EncodeBody(MqttPacket packet, MqttBufferWriter body)
    {
        switch (packet)
        {
            case PublishPacket p:
                CheckEncodableTopic(p, allowEmpty: p.TopicAlias != 0);
                byte header = PublishHeader(p);
                body.WriteString(p.Topic);
                if (p.QoS != MqttQualityOfService.AtMostOnce)
                {
                    body.WriteUInt16(p.PacketId);
                }

                _props.Begin();
                _props.Byte(V5PropertyId.PayloadFormatIndicator, p.PayloadFormatIndicator);
                _props.UInt32(V5PropertyId.MessageExpiryInterval, p.MessageExpiryInterval);
                _props.UInt16(V5PropertyId.TopicAlias, p.TopicAlias == 0 ? null : p.TopicAlias);
                _props.String(V5PropertyId.ResponseTopic, p.ResponseTopic);
                _props.Binary(V5PropertyId.CorrelationData, p.CorrelationData);
                _props.User(p.UserProperties);
                foreach (uint id in p.SubscriptionIdentifiers)
                {
                    _props.Vbi(V5PropertyId.SubscriptionIdentifier, id);
                }

                _props.String(V5PropertyId.ContentType, p.ContentType);
                _props.CopyTo(body);
                body.WriteBytes(p.Payload.Span);
                return header;

            case PublishResponsePacket r:
                body.WriteUInt16(r.PacketId);
                _props.Begin();
                _props.String(V5PropertyId.ReasonString, r.ReasonString);
                _props.User(r.UserProperties);
                // §3.4.2.1: reason code and properties may be omitted when Success with no properties.
                if (r.ReasonCode != MqttReasonCode.Success || !_props.IsEmpty)
                {
                    body.WriteByte((byte)r.ReasonCode);
                    if (!_props.IsEmpty)
                    {
                        _props.CopyTo(body);
                    }
                }

                return (byte)(((int)r.Kind << 4) | (r.Kind == MqttPacketType.PubRel ? 2 : 0));

            case ConnectPacket c:
                EncodeConnect(c, body);
                return 0x10;

            case ConnAckPacket a:
                body.WriteByte(a.SessionPresent ? (byte)1 : (byte)0);
                body.WriteByte((byte)a.ReasonCode);
                _props.Begin();
                _props.UInt32(V5PropertyId.SessionExpiryInterval, a.SessionExpiryInterval);
                _props.UInt16(V5PropertyId.ReceiveMaximum, a.ReceiveMaximum);
                _props.Byte(V5PropertyId.MaximumQoS, (byte?)a.MaximumQoS);
                _props.Byte(V5PropertyId.RetainAvailable, Flag(a.RetainAvailable));
                _props.UInt32(V5PropertyId.MaximumPacketSize, a.MaximumPacketSize);
                _props.String(V5PropertyId.AssignedClientIdentifier, a.AssignedClientIdentifier);
                _props.UInt16(V5PropertyId.TopicAliasMaximum, a.TopicAliasMaximum);
                _props.String(V5PropertyId.ReasonString, a.ReasonString);
                _props.User(a.UserProperties);
                _props.Byte(V5PropertyId.WildcardSubscriptionAvailable, Flag(a.WildcardSubscriptionAvailable));
                _props.Byte(V5PropertyId.SubscriptionIdentifierAvailable, Flag(a.SubscriptionIdentifiersAvailable));
                _props.Byte(V5PropertyId.SharedSubscriptionAvailable, Flag(a.SharedSubscriptionAvailable));
                _props.UInt16(V5PropertyId.ServerKeepAlive, a.ServerKeepAlive);
                _props.String(V5PropertyId.ResponseInformation, a.ResponseInformation);
                _props.String(V5PropertyId.ServerReference, a.ServerReference);
                _props.CopyTo(body);
                return 0x20;

            case SubscribePacket s:
                if (s.Subscriptions.Count == 0)
                {
                    throw new ArgumentException("SUBSCRIBE needs at least one topic filter (§3.8.3).", nameof(packet));
                }

                body.WriteUInt16(s.PacketId);
                _props.Begin();
                if (s.SubscriptionIdentifier != 0)
                {
                    _props.Vbi(V5PropertyId.SubscriptionIdentifier, s.SubscriptionIdentifier);
                }

                _props.User(s.UserProperties);
                _props.CopyTo(body);
                foreach (MqttTopicSubscription sub in s.Subscriptions)
                {
                    body.WriteString(sub.TopicFilter);
                    body.WriteByte(SubscriptionOptionsByte(sub, v5: true));
                }

                return 0x82;

            case SubAckPacket sa:
                body.WriteUInt16(sa.PacketId);
                WriteReasonAndUser(sa.ReasonString, sa.UserProperties, body);
                foreach (MqttReasonCode code in sa.ReasonCodes)
                {
                    body.WriteByte((byte)code);
                }

                return 0x90;

            case UnsubscribePacket u:
                if (u.TopicFilters.Count == 0)
                {
                    throw new ArgumentException("UNSUBSCRIBE needs at least one topic filter (§3.10.3).", nameof(packet));
                }

                body.WriteUInt16(u.PacketId);
                _props.Begin();
                _props.User(u.UserProperties);
                _props.CopyTo(body);
                foreach (string filter in u.TopicFilters)
                {
                    body.WriteString(filter);
                }

                return 0xA2;

            case UnsubAckPacket ua:
                body.WriteUInt16(ua.PacketId);
                WriteReasonAndUser(ua.ReasonString, ua.UserProperties, body);
                foreach (MqttReasonCode code in ua.ReasonCodes)
                {
                    body.WriteByte((byte)code);
                }

                return 0xB0;

            case PingReqPacket:
                return 0xC0;

            case PingRespPacket:
                return 0xD0;

            case DisconnectPacket d:
                _props.Begin();
                _props.UInt32(V5PropertyId.SessionExpiryInterval, d.SessionExpiryInterval);
                _props.String(V5PropertyId.ReasonString, d.ReasonString);
                _props.User(d.UserProperties);
                _props.String(V5PropertyId.ServerReference, d.ServerReference);
                if (d.ReasonCode != MqttReasonCode.Success || !_props.IsEmpty)
                {
                    body.WriteByte((byte)d.ReasonCode);
                    if (!_props.IsEmpty)
                    {
                        _props.CopyTo(body);
                    }
                }

                return 0xE0;

            default:
                throw new ArgumentException($"Cannot encode {packet.Type}.", nameof(packet));
        }
    }

    private void EncodeConnect(ConnectPacket c, MqttBufferWriter body)
    {
        ConnectHeader.Write(body, c, protocolLevel: 5);
        _props.Begin();
        _props.UInt32(V5PropertyId.SessionExpiryInterval, c.SessionExpiryInterval == 0 ? null : c.SessionExpiryInterval);
        _props.UInt16(V5PropertyId.ReceiveMaximum, c.ReceiveMaximum == 0 ? null : c.ReceiveMaximum);
        _props.UInt32(V5PropertyId.MaximumPacketSize, c.MaximumPacketSize == 0 ? null : c.MaximumPacketSize);
        _props.UInt16(V5PropertyId.TopicAliasMaximum, c.TopicAliasMaximum == 0 ? null : c.TopicAliasMaximum);
        _props.Byte(V5PropertyId.RequestResponseInformation, c.RequestResponseInformation ? (byte)1 : null);
        _props.Byte(V5PropertyId.RequestProblemInformation, Flag(c.RequestProblemInformation));
        _props.User(c.UserProperties);
        _props.CopyTo(body);
        body.WriteString(c.ClientId);
        if (c.Will is { } w)
        {
            if (w.Topic.Length == 0 || w.Topic.AsSpan().IndexOfAny('+', '#') >= 0)
            {
                throw new ArgumentException($"Will topic '{w.Topic}' must be a non-empty topic name without wildcards.", nameof(c));
            }

            _props.Begin();
            _props.UInt32(V5PropertyId.WillDelayInterval, w.WillDelayInterval == 0 ? null : w.WillDelayInterval);
            _props.Byte(V5PropertyId.PayloadFormatIndicator, w.PayloadFormatIndicator);
            _props.UInt32(V5PropertyId.MessageExpiryInterval, w.MessageExpiryInterval);
            _props.String(V5PropertyId.ContentType, w.ContentType);
            _props.String(V5PropertyId.ResponseTopic, w.ResponseTopic);
            _props.Binary(V5PropertyId.CorrelationData, w.CorrelationData);
            _props.User(w.UserProperties);
            _props.CopyTo(body);
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

    private void WriteReasonAndUser(string? reason, IReadOnlyList<MqttUserProperty> user, MqttBufferWriter body)
    {
        _props.Begin();
        _props.String(V5PropertyId.ReasonString, reason);
        _props.User(user);
        _props.CopyTo(body);
    }

    private static byte? Flag(bool? value) => value is null ? null : value.Value ? (byte)1 : (byte)0;

    protected override ConnectPacket DecodeConnect(ref MqttBufferReader reader)
    {
        ConnectHeader.ReadProtocol(ref reader, protocolLevel: 5, decoder: "MQTT 5");

        byte flags = reader.ReadByte();
        if ((flags & 1) != 0)
        {
            throw MqttProtocolException.Malformed("CONNECT reserved flag set (§3.1.2.3)");
        }

        bool willFlag = (flags & 0x04) != 0;
        int willQoS = (flags >> 3) & 3;
        bool willRetain = (flags & 0x20) != 0;
        if (willQoS == 3 || (!willFlag && (willQoS != 0 || willRetain)))
        {
            throw MqttProtocolException.Malformed("CONNECT will flags are inconsistent (§3.1.2.6)");
        }

        ushort keepAlive = reader.ReadUInt16();
        V5Properties props = V5Properties.Read(ref reader, V5PropertyContext.Connect);
        string clientId = reader.ReadString();
        MqttWill? will = null;
        if (willFlag)
        {
            V5Properties wp = V5Properties.Read(ref reader, V5PropertyContext.Will);
            string topic = reader.ReadString();
            CheckPublishTopic(topic);
            byte[] payload = reader.ReadBinary();
            will = new MqttWill
            {
                Topic = topic,
                Payload = payload,
                QoS = (MqttQualityOfService)willQoS,
                Retain = willRetain,
                WillDelayInterval = wp.WillDelayInterval ?? 0,
                PayloadFormatIndicator = wp.PayloadFormatIndicator,
                MessageExpiryInterval = wp.MessageExpiryInterval,
                ContentType = wp.ContentType,
                ResponseTopic = wp.ResponseTopic,
                CorrelationData = Optional(wp.CorrelationData),
                UserProperties = wp.UserPropertyList,
            };
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
            SessionExpiryInterval = props.SessionExpiryInterval ?? 0,
            ReceiveMaximum = props.ReceiveMaximum ?? 0,
            MaximumPacketSize = props.MaximumPacketSize ?? 0,
            TopicAliasMaximum = props.TopicAliasMaximum ?? 0,
            RequestResponseInformation = props.RequestResponseInformation == 1,
            RequestProblemInformation = props.RequestProblemInformation is null ? null : props.RequestProblemInformation == 1,
            UserProperties = props.UserPropertyList,
        };
    }

    protected override ConnAckPacket DecodeConnAck(ref MqttBufferReader reader)
    {
        byte ackFlags = reader.ReadByte();
        if ((ackFlags & 0xFE) != 0)
        {
            throw MqttProtocolException.Malformed("CONNACK acknowledge flags set reserved bits (§3.2.2.1)");
        }

        var reason = (MqttReasonCode)reader.ReadByte();
        // Mosquitto and others may send a bare 2-byte CONNACK on refusal; properties are then absent.
        V5Properties p = reader.End ? default : V5Properties.Read(ref reader, V5PropertyContext.ConnAck);
        if ((ackFlags & 1) != 0 && reason != MqttReasonCode.Success)
        {
            throw MqttProtocolException.Malformed("CONNACK with Session Present and a failure reason (§3.2.2.1.1)");
        }

        return new ConnAckPacket
        {
            SessionPresent = (ackFlags & 1) != 0,
            ReasonCode = reason,
            SessionExpiryInterval = p.SessionExpiryInterval,
            ReceiveMaximum = p.ReceiveMaximum,
            MaximumQoS = (MqttQualityOfService?)p.MaximumQoS,
            RetainAvailable = p.RetainAvailable is null ? null : p.RetainAvailable == 1,
            MaximumPacketSize = p.MaximumPacketSize,
            AssignedClientIdentifier = p.AssignedClientIdentifier,
            TopicAliasMaximum = p.TopicAliasMaximum,
            ReasonString = p.ReasonString,
            WildcardSubscriptionAvailable = p.WildcardSubscriptionAvailable is null ? null : p.WildcardSubscriptionAvailable == 1,
            SubscriptionIdentifiersAvailable = p.SubscriptionIdentifierAvailable is null ? null : p.SubscriptionIdentifierAvailable == 1,
            SharedSubscriptionAvailable = p.SharedSubscriptionAvailable is null ? null : p.SharedSubscriptionAvailable == 1,
            ServerKeepAlive = p.ServerKeepAlive,
            ResponseInformation = p.ResponseInformation,
            ServerReference = p.ServerReference,
            UserProperties = p.UserPropertyList,
        };
    }

    protected override PublishPacket DecodePublish(int flags, ref MqttBufferReader reader)
    {
        (MqttQualityOfService qos, bool dup, bool retain) = ReadPublishFlags(flags);
        string topic = reader.ReadString();
        CheckPublishTopic(topic);
        ushort packetId = qos == MqttQualityOfService.AtMostOnce ? (ushort)0 : ReadPacketId(ref reader, "PUBLISH");
        V5Properties p = V5Properties.Read(ref reader, V5PropertyContext.Publish);
        if (topic.Length == 0 && p.TopicAlias is null)
        {
            throw MqttProtocolException.Violation("PUBLISH with an empty topic and no Topic Alias (§3.3.2.1)");
        }

        byte[] payload = reader.ReadToEnd().ToArray();
        return new PublishPacket
        {
            Topic = topic,
            Payload = payload,
            QoS = qos,
            Dup = dup,
            Retain = retain,
            PacketId = packetId,
            PayloadFormatIndicator = p.PayloadFormatIndicator,
            MessageExpiryInterval = p.MessageExpiryInterval,
            TopicAlias = p.TopicAlias ?? 0,
            ResponseTopic = p.ResponseTopic,
            CorrelationData = Optional(p.CorrelationData),
            ContentType = p.ContentType,
            UserProperties = p.UserPropertyList,
            SubscriptionIdentifiers = (IReadOnlyList<uint>?)p.SubscriptionIdentifiers ?? [],
        };
    }

    protected override PublishResponsePacket DecodePublishResponse(MqttPacketType type, ref MqttBufferReader reader)
    {
        ushort id = ReadPacketId(ref reader, type.ToString());
        if (reader.End)
        {
            return new PublishResponsePacket(type, id);
        }

        var reason = (MqttReasonCode)reader.ReadByte();
        V5Properties p = reader.End ? default : V5Properties.Read(ref reader, V5PropertyContext.PublishResponse);
        return new PublishResponsePacket(type, id, reason) { ReasonString = p.ReasonString, UserProperties = p.UserPropertyList };
    }

    protected override SubscribePacket DecodeSubscribe(ref MqttBufferReader reader)
    {
        ushort id = ReadPacketId(ref reader, "SUBSCRIBE");
        V5Properties p = V5Properties.Read(ref reader, V5PropertyContext.Subscribe);
        var subscriptions = new List<MqttTopicSubscription>();
        while (!reader.End)
        {
            string filter = reader.ReadString();
            CheckFilter(filter);
            subscriptions.Add(ReadSubscriptionOptions(filter, reader.ReadByte(), v5: true));
        }

        if (subscriptions.Count == 0)
        {
            throw MqttProtocolException.Violation("SUBSCRIBE without topic filters (§3.8.3)");
        }

        return new SubscribePacket
        {
            PacketId = id,
            Subscriptions = subscriptions,
            SubscriptionIdentifier = p.SubscriptionIdentifiers is { Count: > 0 } ids ? ids[0] : 0,
            UserProperties = p.UserPropertyList,
        };
    }

    protected override SubAckPacket DecodeSubAck(ref MqttBufferReader reader)
    {
        ushort id = ReadPacketId(ref reader, "SUBACK");
        V5Properties p = V5Properties.Read(ref reader, V5PropertyContext.SubAck);
        MqttReasonCode[] codes = ReadReasonCodes(ref reader, "SUBACK");
        return new SubAckPacket { PacketId = id, ReasonCodes = codes, ReasonString = p.ReasonString, UserProperties = p.UserPropertyList };
    }

    protected override UnsubscribePacket DecodeUnsubscribe(ref MqttBufferReader reader)
    {
        ushort id = ReadPacketId(ref reader, "UNSUBSCRIBE");
        V5Properties p = V5Properties.Read(ref reader, V5PropertyContext.Unsubscribe);
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

        return new UnsubscribePacket { PacketId = id, TopicFilters = filters, UserProperties = p.UserPropertyList };
    }

    protected override UnsubAckPacket DecodeUnsubAck(ref MqttBufferReader reader)
    {
        ushort id = ReadPacketId(ref reader, "UNSUBACK");
        V5Properties p = V5Properties.Read(ref reader, V5PropertyContext.UnsubAck);
        MqttReasonCode[] codes = ReadReasonCodes(ref reader, "UNSUBACK");
        return new UnsubAckPacket { PacketId = id, ReasonCodes = codes, ReasonString = p.ReasonString, UserProperties = p.UserPropertyList };
    }

    protected override DisconnectPacket DecodeDisconnect(ref MqttBufferReader reader)
    {
        if (reader.End)
        {
            return new DisconnectPacket { ReasonCode = MqttReasonCode.Success };
        }

        var reason = (MqttReasonCode)reader.ReadByte();
        V5Properties p = reader.End ? default : V5Properties.Read(ref reader, V5PropertyContext.Disconnect);
        return new DisconnectPacket
        {
            ReasonCode = reason,
            SessionExpiryInterval = p.SessionExpiryInterval,
            ReasonString = p.ReasonString,
            ServerReference = p.ServerReference,
            UserProperties = p.UserPropertyList,
        };
    }

    private static MqttReasonCode[] ReadReasonCodes(ref MqttBufferReader reader, string what)
    {
        ReadOnlySpan<byte> bytes = reader.ReadToEnd();
        if (bytes.Length == 0)
        {
            throw MqttProtocolException.Violation($"{what} without reason codes");
        }

        var codes = new MqttReasonCode[bytes.Length];
        for (int i = 0; i < bytes.Length; i++)
        {
            codes[i] = (MqttReasonCode)bytes[i];
        }

        return codes;
    }
}
