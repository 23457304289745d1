using System.Buffers.Binary;
using System.Text;

namespace EdgeAgent.OnnxFormat.Protobuf;

/// <summary>
/// Appends Protocol Buffers wire-format fields to a growable buffer. Sub-messages are written by
/// encoding them with their own writer and embedding the bytes (<see cref="WriteMessage"/>), which
/// keeps the code obvious at the cost of one copy per level; ONNX models are small enough for that.
/// </summary>
/// <remarks>Not thread-safe. Fields are written in call order; callers write them in field-number order
/// as protobuf serializers do, so output is deterministic.</remarks>
public sealed class ProtoWriter
{
    private byte[] _buffer;
    private int _length;

    public ProtoWriter(int initialCapacity = 256) => _buffer = new byte[Math.Max(16, initialCapacity)];

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public byte[] ToArray() => _buffer.AsSpan(0, _length).ToArray();

    public void WriteTag(int fieldNumber, WireType wireType) =>
        WriteVarint(((ulong)(uint)fieldNumber << 3) | (uint)wireType);

    public void WriteVarint(ulong value)
    {
        Ensure(10);
        while (value >= 0x80)
        {
            _buffer[_length++] = (byte)(value | 0x80);
            value >>= 7;
        }
        _buffer[_length++] = (byte)value;
    }

    public void WriteInt64Field(int fieldNumber, long value)
    {
        WriteTag(fieldNumber, WireType.Varint);
        WriteVarint(unchecked((ulong)value));
    }

    /// <summary>protobuf <c>int32</c>/enum: negatives are sign-extended to 10 bytes per the encoding guide.</summary>
    public void WriteInt32Field(int fieldNumber, int value) => WriteInt64Field(fieldNumber, value);

    public void WriteFloatField(int fieldNumber, float value)
    {
        WriteTag(fieldNumber, WireType.Fixed32);
        WriteFixed32(unchecked((uint)BitConverter.SingleToInt32Bits(value)));
    }

    public void WriteFixed32(uint value)
    {
        Ensure(4);
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(_length), value);
        _length += 4;
    }

    public void WriteFixed64(ulong value)
    {
        Ensure(8);
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.AsSpan(_length), value);
        _length += 8;
    }

    public void WriteBytesField(int fieldNumber, ReadOnlySpan<byte> bytes)
    {
        WriteTag(fieldNumber, WireType.LengthDelimited);
        WriteVarint((ulong)bytes.Length);
        WriteRaw(bytes);
    }

    public void WriteStringField(int fieldNumber, string value)
    {
        int max = Encoding.UTF8.GetMaxByteCount(value.Length);
        if (max <= 512)
        {
            Span<byte> tmp = stackalloc byte[max];
            int n = Encoding.UTF8.GetBytes(value, tmp);
            WriteBytesField(fieldNumber, tmp[..n]);
        }
        else
        {
            WriteBytesField(fieldNumber, Encoding.UTF8.GetBytes(value));
        }
    }

    /// <summary>Writes a string field only when <paramref name="value"/> is non-empty (proto2 optional, absent = default).</summary>
    public void WriteStringFieldIfSet(int fieldNumber, string? value)
    {
        if (!string.IsNullOrEmpty(value))
            WriteStringField(fieldNumber, value);
    }

    public void WriteMessage(int fieldNumber, ProtoWriter message) => WriteBytesField(fieldNumber, message.WrittenSpan);

    public void WritePackedVarints(int fieldNumber, ReadOnlySpan<long> values)
    {
        var inner = new ProtoWriter(values.Length * 2 + 16);
        foreach (long v in values) inner.WriteVarint(unchecked((ulong)v));
        WriteMessage(fieldNumber, inner);
    }

    public void WritePackedFixed32(int fieldNumber, ReadOnlySpan<uint> values)
    {
        WriteTag(fieldNumber, WireType.LengthDelimited);
        WriteVarint((ulong)values.Length * 4);
        Ensure(values.Length * 4);
        foreach (uint v in values) WriteFixed32(v);
    }

    public void WritePackedFixed64(int fieldNumber, ReadOnlySpan<ulong> values)
    {
        WriteTag(fieldNumber, WireType.LengthDelimited);
        WriteVarint((ulong)values.Length * 8);
        Ensure(values.Length * 8);
        foreach (ulong v in values) WriteFixed64(v);
    }

    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
    }

    private void Ensure(int extra)
    {
        if (_buffer.Length - _length >= extra) return;
        long wanted = Math.Max((long)_buffer.Length * 2, (long)_length + extra);
        if (wanted > Array.MaxLength)
        {
            if ((long)_length + extra > Array.MaxLength)
                throw new OnnxFormatException("Encoded protobuf message would exceed 2 GB, the protobuf size limit.");
            wanted = Array.MaxLength;
        }
        Array.Resize(ref _buffer, (int)wanted);
    }
}
