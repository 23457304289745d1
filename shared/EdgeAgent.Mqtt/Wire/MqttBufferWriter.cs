using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace EdgeAgent.Mqtt.Wire;

/// <summary>
/// Growable byte buffer rented from <see cref="ArrayPool{T}.Shared"/>, with the MQTT data
/// representations (§1.5). Not thread safe; owned by one encoder. <see cref="Dispose"/> returns the
/// buffer to the pool.
/// </summary>
internal sealed class MqttBufferWriter(int initialCapacity = 256) : IDisposable
{
    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    private int _length;

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _length);

    public void Reset() => _length = 0;

    /// <summary>Cuts the content back to <paramref name="length"/> bytes (undoes a failed encode).</summary>
    public void Truncate(int length) => _length = Math.Min(_length, length);

    /// <summary>Empties the buffer; with <paramref name="shrink"/> a buffer grown by a burst goes back to the pool.</summary>
    public void Clear(bool shrink)
    {
        _length = 0;
        if (shrink && _buffer.Length > 64 * 1024)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        }
    }

    public Span<byte> GetSpan(int size)
    {
        EnsureCapacity(size);
        return _buffer.AsSpan(_length, size);
    }

    public void Advance(int count) => _length += count;

    public void WriteByte(byte value)
    {
        EnsureCapacity(1);
        _buffer[_length++] = value;
    }

    public void WriteUInt16(ushort value)
    {
        BinaryPrimitives.WriteUInt16BigEndian(GetSpan(2), value);
        _length += 2;
    }

    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32BigEndian(GetSpan(4), value);
        _length += 4;
    }

    /// <summary>Variable Byte Integer (MQTT 5 §1.5.5): at most 4 bytes, max 268,435,455.</summary>
    public void WriteVariableByteInteger(uint value)
    {
        if (value > VariableByteInteger.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "MQTT variable byte integers are limited to 268,435,455.");
        }

        _length += VariableByteInteger.Write(GetSpan(4), value);
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        _length += bytes.Length;
    }

    /// <summary>UTF-8 Encoded String (MQTT 5 §1.5.4): 2-byte length, no U+0000, at most 65,535 bytes.</summary>
    public void WriteString(string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        Span<byte> target = GetSpan(2 + max);
        int count;
        try
        {
            count = MqttStrings.Utf8.GetBytes(value, target[2..]);
        }
        catch (EncoderFallbackException ex)
        {
            throw new ArgumentException($"'{Truncate(value)}' is not valid UTF-16 (unpaired surrogate), so it cannot be sent as an MQTT string.", nameof(value), ex);
        }

        if (count > ushort.MaxValue)
        {
            throw new ArgumentException($"An MQTT string is limited to 65,535 UTF-8 bytes; '{Truncate(value)}' has {count}.", nameof(value));
        }

        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"MQTT strings must not contain U+0000 (MQTT 5 §1.5.4): '{Truncate(value)}'.", nameof(value));
        }

        BinaryPrimitives.WriteUInt16BigEndian(target, (ushort)count);
        _length += 2 + count;
    }

    /// <summary>Binary Data (MQTT 5 §1.5.6): 2-byte length then bytes.</summary>
    public void WriteBinary(ReadOnlySpan<byte> value)
    {
        if (value.Length > ushort.MaxValue)
        {
            throw new ArgumentException($"MQTT binary data is limited to 65,535 bytes; got {value.Length}.", nameof(value));
        }

        WriteUInt16((ushort)value.Length);
        WriteBytes(value);
    }

    public void Dispose()
    {
        byte[] buffer = _buffer;
        _buffer = [];
        _length = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void EnsureCapacity(int extra)
    {
        int needed = _length + extra;
        if (needed <= _buffer.Length)
        {
            return;
        }

        byte[] bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    private static string Truncate(string value) => value.Length <= 64 ? value : value[..64] + "…";
}
