using EdgeAgent.Mqtt.Packets;

namespace EdgeAgent.Mqtt.Wire;

/// <summary>
/// The start of CONNECT's variable header, identical in 3.1.1 and 5.0 but for the protocol level
/// (MQTT 3.1.1 §3.1.2.1–3.1.2.10, MQTT 5 §3.1.2.1–3.1.2.10): protocol name, level, connect flags,
/// keep alive; read back with the same checks. What follows (v5 properties, flag rules, payload) stays in
/// each version's codec.
/// </summary>
internal static class ConnectHeader
{
    public static void Write(MqttBufferWriter body, ConnectPacket c, byte protocolLevel)
    {
        body.WriteString("MQTT");
        body.WriteByte(protocolLevel);
        int flags = (c.CleanStart ? 0x02 : 0) | (c.Username is not null ? 0x80 : 0) | (c.Password is not null ? 0x40 : 0);
        if (c.Will is { } will)
        {
            if (will.QoS > MqttQualityOfService.ExactlyOnce)
            {
                throw new ArgumentException("Will QoS must be 0, 1 or 2.", nameof(c));
            }

            flags |= 0x04 | ((int)will.QoS << 3) | (will.Retain ? 0x20 : 0);
        }

        body.WriteByte((byte)flags);
        body.WriteUInt16(c.KeepAliveSeconds);
    }

    /// <summary>Reads and checks the protocol name and level; the connect flags and what follows are the caller's.</summary>
    public static void ReadProtocol(ref MqttBufferReader reader, byte protocolLevel, string decoder)
    {
        string protocol = reader.ReadString();
        byte level = reader.ReadByte();
        if (protocol != "MQTT")
        {
            throw MqttProtocolException.Malformed($"protocol name '{protocol}' (expected MQTT)");
        }

        if (level != protocolLevel)
        {
            throw new MqttProtocolException(MqttReasonCode.UnsupportedProtocolVersion, $"protocol level {level} sent to the {decoder} decoder");
        }
    }
}
