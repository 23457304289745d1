using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Mqtt.Wire;

namespace EdgeAgent.Mqtt.Tests.Wire;

public sealed class CodecRoundTripTests
{
    internal static byte[] Encode(MqttPacketCodec codec, MqttPacket packet)
    {
        using var writer = new MqttBufferWriter();
        codec.Encode(packet, writer);
        return writer.WrittenSpan.ToArray();
    }

    internal static MqttPacket Decode(MqttPacketCodec codec, byte[] frame, uint max = 0)
    {
        Assert.True(MqttFrame.TryRead(frame, max, out byte header, out int headerLength, out int bodyLength));
        Assert.Equal(frame.Length, headerLength + bodyLength);
        return codec.Decode(header, frame.AsSpan(headerLength, bodyLength));
    }

    public static TheoryData<string> Packets() => new(AllPackets().Keys);

    internal static Dictionary<string, MqttPacket> AllPackets() => new()
    {
        ["connect-minimal"] = new ConnectPacket { ClientId = "dev-1", KeepAliveSeconds = 30 },
        ["connect-full"] = new ConnectPacket
        {
            ClientId = "dev-ü",
            CleanStart = false,
            KeepAliveSeconds = 5,
            Username = "user",
            Password = new byte[] { 1, 2, 3 },
            SessionExpiryInterval = 3600,
            ReceiveMaximum = 50,
            MaximumPacketSize = 1 << 20,
            TopicAliasMaximum = 10,
            RequestResponseInformation = true,
            RequestProblemInformation = false,
            UserProperties = [new("a", "1"), new("a", "2")],
            Will = new MqttWill
            {
                Topic = "edgeagent/v1/dev-1/status",
                Payload = "{\"online\":false}"u8.ToArray(),
                QoS = MqttQualityOfService.AtLeastOnce,
                Retain = true,
                WillDelayInterval = 2,
                PayloadFormatIndicator = 1,
                MessageExpiryInterval = 60,
                ContentType = "application/json",
                ResponseTopic = "r/t",
                CorrelationData = new byte[] { 9 },
                UserProperties = [new("k", "v")],
            },
        },
        ["connack"] = new ConnAckPacket
        {
            SessionPresent = true,
            ReasonCode = MqttReasonCode.Success,
            SessionExpiryInterval = 10,
            ReceiveMaximum = 20,
            MaximumQoS = MqttQualityOfService.AtLeastOnce,
            RetainAvailable = true,
            MaximumPacketSize = 1000,
            AssignedClientIdentifier = "auto-1",
            TopicAliasMaximum = 10,
            ReasonString = "ok",
            WildcardSubscriptionAvailable = true,
            SubscriptionIdentifiersAvailable = false,
            SharedSubscriptionAvailable = true,
            ServerKeepAlive = 60,
            ResponseInformation = "ri",
            ServerReference = "other",
            UserProperties = [new("x", "y")],
        },
        ["publish-qos0"] = new PublishPacket { Topic = "a/b", Payload = new byte[] { 1, 2 } },
        ["publish-qos1-props"] = new PublishPacket
        {
            Topic = "a/b",
            Payload = new byte[300],
            QoS = MqttQualityOfService.AtLeastOnce,
            PacketId = 7,
            Dup = true,
            Retain = true,
            PayloadFormatIndicator = 1,
            MessageExpiryInterval = 99,
            TopicAlias = 3,
            ResponseTopic = "resp/1",
            CorrelationData = new byte[] { 1, 2, 3, 4 },
            ContentType = "text/plain",
            UserProperties = [new("n", "v")],
            SubscriptionIdentifiers = [1, 268_435_455],
        },
        ["puback"] = new PublishResponsePacket(MqttPacketType.PubAck, 1),
        ["puback-failure"] = new PublishResponsePacket(MqttPacketType.PubAck, 65535, MqttReasonCode.NotAuthorized) { ReasonString = "acl" },
        ["pubrec"] = new PublishResponsePacket(MqttPacketType.PubRec, 2),
        ["pubrel"] = new PublishResponsePacket(MqttPacketType.PubRel, 3),
        ["pubcomp"] = new PublishResponsePacket(MqttPacketType.PubComp, 4),
        ["subscribe"] = new SubscribePacket
        {
            PacketId = 5,
            SubscriptionIdentifier = 42,
            Subscriptions =
            [
                new("a/+/c", MqttQualityOfService.ExactlyOnce, NoLocal: true, RetainAsPublished: true, RetainHandling: MqttRetainHandling.DoNotSend),
                new("$share/g/x/#"),
            ],
        },
        ["suback"] = new SubAckPacket { PacketId = 5, ReasonCodes = [MqttReasonCode.GrantedQoS1, MqttReasonCode.NotAuthorized] },
        ["unsubscribe"] = new UnsubscribePacket { PacketId = 6, TopicFilters = ["a/#", "b"] },
        ["unsuback"] = new UnsubAckPacket { PacketId = 6, ReasonCodes = [MqttReasonCode.Success, MqttReasonCode.NoSubscriptionExisted] },
        ["pingreq"] = PingReqPacket.Instance,
        ["pingresp"] = PingRespPacket.Instance,
        ["disconnect"] = new DisconnectPacket(),
        ["disconnect-reason"] = new DisconnectPacket { ReasonCode = MqttReasonCode.KeepAliveTimeout, ReasonString = "late", SessionExpiryInterval = 0 },
    };

    [Theory]
    [MemberData(nameof(Packets))]
    public void V5_packets_survive_encode_decode_encode_byte_for_byte(string name)
    {
        using var codec = new V5PacketCodec();
        byte[] first = Encode(codec, AllPackets()[name]);
        MqttPacket decoded = Decode(codec, first);
        Assert.Equal(AllPackets()[name].Type, decoded.Type);
        Assert.Equal(Convert.ToHexString(first), Convert.ToHexString(Encode(codec, decoded)));
    }

    [Theory]
    [InlineData("connect-minimal")]
    [InlineData("publish-qos0")]
    [InlineData("puback")]
    [InlineData("pubrel")]
    [InlineData("unsubscribe")]
    [InlineData("pingreq")]
    [InlineData("disconnect")]
    public void V311_packets_survive_encode_decode_encode_byte_for_byte(string name)
    {
        using var codec = new V311PacketCodec();
        byte[] first = Encode(codec, AllPackets()[name]);
        Assert.Equal(first, Encode(codec, Decode(codec, first)));
    }

    [Fact]
    public void V5_publish_fields_are_decoded_exactly()
    {
        using var codec = new V5PacketCodec();
        var p = (PublishPacket)Decode(codec, Encode(codec, AllPackets()["publish-qos1-props"]));
        Assert.Equal("a/b", p.Topic);
        Assert.Equal(MqttQualityOfService.AtLeastOnce, p.QoS);
        Assert.True(p.Dup);
        Assert.True(p.Retain);
        Assert.Equal(7, p.PacketId);
        Assert.Equal((byte)1, p.PayloadFormatIndicator);
        Assert.Equal(99u, p.MessageExpiryInterval);
        Assert.Equal(3, p.TopicAlias);
        Assert.Equal("resp/1", p.ResponseTopic);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, p.CorrelationData!.Value.ToArray());
        Assert.Equal("text/plain", p.ContentType);
        Assert.Equal([new MqttUserProperty("n", "v")], p.UserProperties);
        Assert.Equal([1u, 268_435_455u], p.SubscriptionIdentifiers);
        Assert.Equal(300, p.Payload.Length);
    }

    [Fact]
    public void V5_connack_with_all_properties_is_decoded_exactly()
    {
        using var codec = new V5PacketCodec();
        var a = (ConnAckPacket)Decode(codec, Encode(codec, AllPackets()["connack"]));
        Assert.True(a.SessionPresent);
        Assert.Equal((ushort)20, a.ReceiveMaximum);
        Assert.Equal(MqttQualityOfService.AtLeastOnce, a.MaximumQoS);
        Assert.Equal("auto-1", a.AssignedClientIdentifier);
        Assert.Equal((ushort)10, a.TopicAliasMaximum);
        Assert.Equal((ushort)60, a.ServerKeepAlive);
        Assert.False(a.SubscriptionIdentifiersAvailable);
        Assert.Equal("ok", a.ReasonString);
    }

    [Fact]
    public void Puback_success_without_properties_uses_the_two_byte_short_form()
    {
        using var codec = new V5PacketCodec();
        Assert.Equal(new byte[] { 0x40, 0x02, 0x00, 0x01 }, Encode(codec, new PublishResponsePacket(MqttPacketType.PubAck, 1)));
        Assert.Equal(new byte[] { 0xE0, 0x00 }, Encode(codec, new DisconnectPacket()));
    }

    [Fact]
    public void V311_connack_return_codes_map_to_v5_reason_codes()
    {
        using var codec = new V311PacketCodec();
        var a = (ConnAckPacket)Decode(codec, [0x20, 0x02, 0x00, 0x04]);
        Assert.Equal(MqttReasonCode.BadUserNameOrPassword, a.ReasonCode);
        a = (ConnAckPacket)Decode(codec, [0x20, 0x02, 0x00, 0x05]);
        Assert.Equal(MqttReasonCode.NotAuthorized, a.ReasonCode);
    }

    [Fact]
    public void V311_refuses_mqtt5_only_subscription_options()
    {
        using var codec = new V311PacketCodec();
        var ex = Assert.Throws<ArgumentException>(() => Encode(codec, new SubscribePacket { PacketId = 1, Subscriptions = [new("a", NoLocal: true)] }));
        Assert.Contains("MQTT 5", ex.Message);
    }

    [Fact]
    public void Strings_with_U0000_or_lone_surrogates_are_refused_before_sending()
    {
        using var codec = new V5PacketCodec();
        Assert.Throws<ArgumentException>(() => Encode(codec, new PublishPacket { Topic = "a\0b" }));
        Assert.Throws<ArgumentException>(() => Encode(codec, new PublishPacket { Topic = "a\ud800" }));
        Assert.Throws<ArgumentException>(() => Encode(codec, new PublishPacket { Topic = "a/+" }));
    }

    [Theory]
    [InlineData(0u, new byte[] { 0x00 })]
    [InlineData(127u, new byte[] { 0x7F })]
    [InlineData(128u, new byte[] { 0x80, 0x01 })]
    [InlineData(16_383u, new byte[] { 0xFF, 0x7F })]
    [InlineData(16_384u, new byte[] { 0x80, 0x80, 0x01 })]
    [InlineData(2_097_151u, new byte[] { 0xFF, 0xFF, 0x7F })]
    [InlineData(2_097_152u, new byte[] { 0x80, 0x80, 0x80, 0x01 })]
    [InlineData(268_435_455u, new byte[] { 0xFF, 0xFF, 0xFF, 0x7F })]
    public void Variable_byte_integers_match_the_spec_table(uint value, byte[] expected)
    {
        Span<byte> buffer = stackalloc byte[4];
        int n = VariableByteInteger.Write(buffer, value);
        Assert.Equal(expected, buffer[..n].ToArray());
        Assert.True(VariableByteInteger.TryRead(expected, out uint back, out int consumed));
        Assert.Equal(value, back);
        Assert.Equal(expected.Length, consumed);
        Assert.Equal(expected.Length, VariableByteInteger.Size(value));
    }
}
