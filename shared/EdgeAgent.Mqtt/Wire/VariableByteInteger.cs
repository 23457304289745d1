namespace EdgeAgent.Mqtt.Wire;

/// <summary>Variable Byte Integer (MQTT 5 §1.5.5, 3.1.1 §2.2.3): 7 bits per byte, at most 4 bytes.</summary>
internal static class VariableByteInteger
{
    public const uint MaxValue = 268_435_455;

    public static int Write(Span<byte> target, uint value)
    {
        int i = 0;
        do
        {
            byte digit = (byte)(value & 0x7F);
            value >>= 7;
            if (value > 0)
            {
                digit |= 0x80;
            }

            target[i++] = digit;
        }
        while (value > 0);
        return i;
    }

    public static int Size(uint value) => value < 128 ? 1 : value < 16_384 ? 2 : value < 2_097_152 ? 3 : 4;

    /// <summary>
    /// Decodes from <paramref name="source"/>. Returns false when more bytes are needed. Throws
    /// <see cref="MqttProtocolException"/> (Malformed Packet) when a fifth byte would be needed,
    /// without looking further: the spec caps the encoding at four bytes.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out uint value, out int consumed)
    {
        value = 0;
        int shift = 0;
        for (int i = 0; i < 4; i++)
        {
            if (i >= source.Length)
            {
                consumed = 0;
                return false;
            }

            byte b = source[i];
            value |= (uint)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                // A non-minimal encoding (e.g. 0x80 0x00) is tolerated, as the brokers do.
                consumed = i + 1;
                return true;
            }

            shift += 7;
        }

        throw MqttProtocolException.Malformed("variable byte integer longer than 4 bytes");
    }
}
