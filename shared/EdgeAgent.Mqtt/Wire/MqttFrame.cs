namespace EdgeAgent.Mqtt.Wire;

/// <summary>
/// Finds packet boundaries in a receive buffer (fixed header: type/flags byte, Remaining Length).
/// The size limit is checked from the header alone, before the body is buffered or anything is
/// allocated for it (MQTT 5 §3.1.2.11.4: a packet larger than our Maximum Packet Size is a
/// protocol error answered with DISCONNECT 0x95).
/// </summary>
internal static class MqttFrame
{
    /// <summary>
    /// Returns true and the frame layout when <paramref name="buffer"/> starts with a complete packet;
    /// false when more bytes are needed. Throws <see cref="MqttProtocolException"/> for a Remaining
    /// Length over 4 bytes or a packet over <paramref name="maximumPacketSize"/> bytes.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> buffer, uint maximumPacketSize, out byte fixedHeader, out int headerLength, out int bodyLength)
    {
        fixedHeader = 0;
        headerLength = 0;
        bodyLength = 0;
        if (buffer.Length < 2)
        {
            return false;
        }

        if (!VariableByteInteger.TryRead(buffer[1..], out uint remaining, out int consumed))
        {
            return false;
        }

        ulong total = 1UL + (ulong)consumed + remaining;
        if (maximumPacketSize > 0 && total > maximumPacketSize)
        {
            throw new MqttProtocolException(Packets.MqttReasonCode.PacketTooLarge, $"packet of {total} bytes exceeds our Maximum Packet Size of {maximumPacketSize}");
        }

        fixedHeader = buffer[0];
        headerLength = 1 + consumed;
        bodyLength = (int)remaining;
        return buffer.Length - headerLength >= bodyLength;
    }

    /// <summary>Bytes needed for the whole frame once the header is known (for buffer sizing).</summary>
    public static bool TryGetTotalLength(ReadOnlySpan<byte> buffer, out int total)
    {
        total = 0;
        if (buffer.Length < 2 || !VariableByteInteger.TryRead(buffer[1..], out uint remaining, out int consumed))
        {
            return false;
        }

        total = checked(1 + consumed + (int)remaining);
        return true;
    }
}
