using System.Buffers.Binary;

namespace EdgeAgent.Mqtt.Wire;

/// <summary>
/// Reads MQTT data representations from one packet body. Every read is bounds-checked against the
/// packet and throws <see cref="MqttProtocolException"/> (Malformed Packet) instead of reading past
/// it; lengths are checked before anything is allocated.
/// </summary>
internal ref struct MqttBufferReader(ReadOnlySpan<byte> buffer)
{
    private readonly ReadOnlySpan<byte> _buffer = buffer;
    private int _position;

    public readonly int Remaining => _buffer.Length - _position;

    public readonly bool End => _position >= _buffer.Length;

    public byte ReadByte()
    {
        Need(1, "byte");
        return _buffer[_position++];
    }

    public ushort ReadUInt16()
    {
        Need(2, "two-byte integer");
        ushort value = BinaryPrimitives.ReadUInt16BigEndian(_buffer[_position..]);
        _position += 2;
        return value;
    }

    public uint ReadUInt32()
    {
        Need(4, "four-byte integer");
        uint value = BinaryPrimitives.ReadUInt32BigEndian(_buffer[_position..]);
        _position += 4;
        return value;
    }

    public uint ReadVariableByteInteger()
    {
        if (!VariableByteInteger.TryRead(_buffer[_position..], out uint value, out int consumed))
        {
            throw MqttProtocolException.Malformed("variable byte integer runs past the end of the packet");
        }

        _position += consumed;
        return value;
    }

    public string ReadString()
    {
        ReadOnlySpan<byte> bytes = ReadLengthPrefixed("UTF-8 string");
        return MqttStrings.Decode(bytes);
    }

    public byte[] ReadBinary() => ReadLengthPrefixed("binary data").ToArray();

    public ReadOnlySpan<byte> ReadLengthPrefixed(string what)
    {
        ushort length = ReadUInt16();
        Need(length, what);
        ReadOnlySpan<byte> bytes = _buffer.Slice(_position, length);
        _position += length;
        return bytes;
    }

    public ReadOnlySpan<byte> ReadBytes(int count, string what)
    {
        Need(count, what);
        ReadOnlySpan<byte> bytes = _buffer.Slice(_position, count);
        _position += count;
        return bytes;
    }

    public ReadOnlySpan<byte> ReadToEnd()
    {
        ReadOnlySpan<byte> rest = _buffer[_position..];
        _position = _buffer.Length;
        return rest;
    }

    private readonly void Need(int count, string what)
    {
        if (count > _buffer.Length - _position)
        {
            throw MqttProtocolException.Malformed($"{what} runs past the end of the packet");
        }
    }
}
