using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Mqtt.Wire;

namespace EdgeAgent.Mqtt.Tests.Wire;

public sealed class DecoderHardeningTests
{
    private static MqttProtocolException DecodeFails(byte[] frame, uint max = 0, MqttProtocolVersion version = MqttProtocolVersion.V500)
    {
        using MqttPacketCodec codec = MqttPacketCodec.Create(version);
        return Assert.Throws<MqttProtocolException>(() =>
        {
            if (MqttFrame.TryRead(frame, max, out byte header, out int headerLength, out int bodyLength))
            {
                codec.Decode(header, frame.AsSpan(headerLength, bodyLength));
            }
            else
            {
                throw new InvalidOperationException("frame incomplete");
            }
        });
    }

    [Fact]
    public void Remaining_length_longer_than_four_bytes_is_malformed()
    {
        var ex = DecodeFails([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
        Assert.Equal(MqttReasonCode.MalformedPacket, ex.ReasonCode);
    }

    [Fact]
    public void Packet_larger_than_our_maximum_is_rejected_from_the_header_alone()
    {
        // Only the fixed header is present: the size check must not wait for (or buffer) the body.
        var ex = Assert.Throws<MqttProtocolException>(() => MqttFrame.TryRead([0x30, 0xFF, 0xFF, 0xFF, 0x7F], 1024, out _, out _, out _));
        Assert.Equal(MqttReasonCode.PacketTooLarge, ex.ReasonCode);
    }

    [Fact]
    public void Invalid_utf8_in_a_topic_is_malformed()
    {
        var ex = DecodeFails([0x30, 0x04, 0x00, 0x02, 0xC3, 0x28]);
        Assert.Equal(MqttReasonCode.MalformedPacket, ex.ReasonCode);
        Assert.Contains("UTF-8", ex.Message);
    }

    [Fact]
    public void U0000_in_a_topic_is_malformed()
    {
        Assert.Equal(MqttReasonCode.MalformedPacket, DecodeFails([0x30, 0x05, 0x00, 0x02, 0x61, 0x00, 0x00]).ReasonCode);
    }

    [Fact]
    public void Publish_with_qos3_or_qos0_dup_is_malformed()
    {
        Assert.Equal(MqttReasonCode.MalformedPacket, DecodeFails([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]).ReasonCode);
        Assert.Equal(MqttReasonCode.MalformedPacket, DecodeFails([0x38, 0x04, 0x00, 0x01, 0x61, 0x00]).ReasonCode);
    }

    [Fact]
    public void Wrong_fixed_header_flags_are_malformed()
    {
        Assert.Equal(MqttReasonCode.MalformedPacket, DecodeFails([0x41, 0x02, 0x00, 0x01]).ReasonCode);
        Assert.Equal(MqttReasonCode.MalformedPacket, DecodeFails([0x60, 0x02, 0x00, 0x01]).ReasonCode);
    }

    [Fact]
    public void Duplicate_property_is_a_protocol_error()
    {
        // PUBLISH "a", QoS 0, properties: Message Expiry twice.
        byte[] frame = [0x30, 0x0E, 0x00, 0x01, 0x61, 0x0A, 0x02, 0, 0, 0, 1, 0x02, 0, 0, 0, 2];
        Assert.Equal(MqttReasonCode.ProtocolError, DecodeFails(frame).ReasonCode);
    }

    [Fact]
    public void Property_not_allowed_in_the_packet_is_a_protocol_error()
    {
        // PUBACK id 1, reason 0, properties: Session Expiry (only CONNECT/CONNACK/DISCONNECT).
        byte[] frame = [0x40, 0x09, 0x00, 0x01, 0x00, 0x05, 0x11, 0, 0, 0, 1];
        Assert.Equal(MqttReasonCode.ProtocolError, DecodeFails(frame).ReasonCode);
    }

    [Fact]
    public void Property_length_past_the_packet_end_is_malformed()
    {
        byte[] frame = [0x40, 0x04, 0x00, 0x01, 0x00, 0x7F];
        Assert.Equal(MqttReasonCode.MalformedPacket, DecodeFails(frame).ReasonCode);
    }

    [Fact]
    public void String_length_past_the_packet_end_is_malformed_without_allocating_it()
    {
        byte[] frame = [0x30, 0x03, 0xFF, 0xFF, 0x61];
        Assert.Equal(MqttReasonCode.MalformedPacket, DecodeFails(frame).ReasonCode);
    }

    [Fact]
    public void Topic_alias_zero_is_rejected()
    {
        byte[] frame = [0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x00];
        Assert.Equal(MqttReasonCode.TopicAliasInvalid, DecodeFails(frame).ReasonCode);
    }

    [Fact]
    public void Empty_topic_without_alias_is_a_protocol_error()
    {
        Assert.Equal(MqttReasonCode.ProtocolError, DecodeFails([0x30, 0x03, 0x00, 0x00, 0x00]).ReasonCode);
    }

    [Fact]
    public void Packet_identifier_zero_is_malformed()
    {
        Assert.Equal(MqttReasonCode.MalformedPacket, DecodeFails([0x40, 0x02, 0x00, 0x00]).ReasonCode);
    }

    [Fact]
    public void Trailing_bytes_after_a_fixed_size_packet_are_malformed()
    {
        Assert.Equal(MqttReasonCode.MalformedPacket, DecodeFails([0x40, 0x03, 0x00, 0x01, 0x00], version: MqttProtocolVersion.V311).ReasonCode);
        Assert.Equal(MqttReasonCode.MalformedPacket, DecodeFails([0xD0, 0x01, 0x00]).ReasonCode);
    }

    [Fact]
    public void Auth_packet_is_a_protocol_error_because_no_auth_method_was_negotiated()
    {
        Assert.Equal(MqttReasonCode.ProtocolError, DecodeFails([0xF0, 0x00]).ReasonCode);
    }

    [Fact]
    public void Wildcard_in_a_received_publish_topic_is_rejected()
    {
        Assert.Equal(MqttReasonCode.TopicNameInvalid, DecodeFails([0x30, 0x03, 0x00, 0x01, 0x23]).ReasonCode);
    }

    [Fact]
    public void Unknown_v311_connack_return_code_is_malformed()
    {
        Assert.Equal(MqttReasonCode.MalformedPacket, DecodeFails([0x20, 0x02, 0x00, 0x06], version: MqttProtocolVersion.V311).ReasonCode);
    }
}
