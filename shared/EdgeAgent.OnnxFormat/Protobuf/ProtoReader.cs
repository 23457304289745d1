using System.Buffers.Binary;
using System.Text;

namespace EdgeAgent.OnnxFormat.Protobuf;

/// <summary>
/// Forward-only reader of the Protocol Buffers wire format over a span. Every read is bounds-checked
/// against the span, so a truncated or hostile input ends in an <see cref="OnnxFormatException"/>
/// naming the message and the byte offset, never in an out-of-range access. A length
/// prefix can never make the reader allocate more than the bytes it actually has: sub-messages and
/// packed arrays are slices of the input, and packed element counts are derived from the slice size.
/// </summary>
/// <remarks>Not thread-safe (it is a mutable ref struct); the caller owns the span.</remarks>
public ref struct ProtoReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly int _baseOffset;
    private readonly string _context;
    private int _pos;

    /// <param name="data">The encoded message.</param>
    /// <param name="context">Message name used in error messages, e.g. <c>"ModelProto"</c>.</param>
    /// <param name="baseOffset">Offset of <paramref name="data"/> in the enclosing buffer (for error messages).</param>
    public ProtoReader(ReadOnlySpan<byte> data, string context, int baseOffset = 0)
    {
        _data = data;
        _context = context;
        _baseOffset = baseOffset;
        _pos = 0;
    }

    /// <summary>Absolute offset (within the outermost buffer) of the next byte to read.</summary>
    public readonly int Offset => _baseOffset + _pos;

    public readonly bool IsAtEnd => _pos >= _data.Length;

    public readonly string Context => _context;

    /// <summary>
    /// Reads the next field key. Returns false at the end of the message. Field number 0 and wire
    /// types 6/7 are malformed; groups (3/4, deprecated and unused by ONNX) are rejected.
    /// </summary>
    public bool TryReadTag(out int fieldNumber, out WireType wireType)
    {
        if (_pos >= _data.Length)
        {
            fieldNumber = 0;
            wireType = default;
            return false;
        }
        int at = Offset;
        ulong key = ReadVarint();
        int wt = (int)(key & 7);
        ulong field = key >> 3;
        if (field == 0 || field > 536_870_911)
            throw Error($"invalid field number {field}", at);
        if (wt is 6 or 7)
            throw Error($"invalid wire type {wt} for field {field}", at);
        if (wt is 3 or 4)
            throw Error($"field {field} uses the deprecated group encoding, which ONNX files never contain", at);
        fieldNumber = (int)field;
        wireType = (WireType)wt;
        return true;
    }

    public ulong ReadVarint()
    {
        int start = _pos;
        ulong result = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (_pos >= _data.Length)
                throw Error("truncated varint", _baseOffset + start);
            byte b = _data[_pos++];
            if (shift == 63 && b > 1)
                throw Error("varint longer than 64 bits", _baseOffset + start);
            result |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
                return result;
        }
        throw Error("varint longer than 10 bytes", _baseOffset + start);
    }

    /// <summary>Reads a varint as protobuf <c>int64</c> (two's complement, 10 bytes for negatives).</summary>
    public long ReadInt64() => (long)ReadVarint();

    /// <summary>Reads a varint as protobuf <c>int32</c>: negatives are sign-extended to 64 bits on the wire, so truncation is the rule.</summary>
    public int ReadInt32() => unchecked((int)ReadVarint());

    public uint ReadFixed32()
    {
        Require(4, "fixed32");
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(_data.Slice(_pos, 4));
        _pos += 4;
        return v;
    }

    public ulong ReadFixed64()
    {
        Require(8, "fixed64");
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(_data.Slice(_pos, 8));
        _pos += 8;
        return v;
    }

    public float ReadFloat() => BitConverter.Int32BitsToSingle(unchecked((int)ReadFixed32()));

    public double ReadDouble() => BitConverter.Int64BitsToDouble(unchecked((long)ReadFixed64()));

    /// <summary>Reads a length prefix and returns that many bytes as a slice of the input (no copy).</summary>
    public ReadOnlySpan<byte> ReadLengthDelimited()
    {
        int at = Offset;
        ulong len = ReadVarint();
        if (len > (ulong)(_data.Length - _pos))
            throw Error($"length-delimited field claims {len} bytes but only {_data.Length - _pos} remain", at);
        var slice = _data.Slice(_pos, (int)len);
        _pos += (int)len;
        return slice;
    }

    /// <summary>Reads a length-delimited field and returns a reader over it (for a sub-message).</summary>
    public ProtoReader ReadMessage(string context)
    {
        int start;
        var slice = ReadLengthDelimitedAt(out start);
        return new ProtoReader(slice, context, start);
    }

    /// <summary>Reads a length-delimited field as UTF-8 text; invalid UTF-8 is rejected.</summary>
    public string ReadString()
    {
        int at = Offset;
        var bytes = ReadLengthDelimited();
        try
        {
            return Strict.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw Error("string field is not valid UTF-8", at);
        }
    }

    /// <summary>Skips a field of the given wire type (unknown fields are legal and ignored).</summary>
    public void SkipField(WireType wireType)
    {
        switch (wireType)
        {
            case WireType.Varint: ReadVarint(); break;
            case WireType.Fixed64: Require(8, "fixed64"); _pos += 8; break;
            case WireType.Fixed32: Require(4, "fixed32"); _pos += 4; break;
            case WireType.LengthDelimited: ReadLengthDelimited(); break;
            default: throw Error($"cannot skip wire type {(int)wireType}", Offset);
        }
    }

    /// <summary>
    /// Reads a repeated varint field occurrence, accepting both the packed (length-delimited) and
    /// the unpacked encoding as protobuf parsers must, appending to <paramref name="into"/>.
    /// </summary>
    public void ReadRepeatedVarint(WireType wireType, List<long> into, int fieldNumber)
    {
        if (wireType == WireType.Varint)
        {
            into.Add((long)ReadVarint());
            return;
        }
        ExpectWireType(wireType, WireType.LengthDelimited, fieldNumber);
        var packed = ReadMessage(_context);
        // Each varint ends in exactly one byte with the high bit clear, so the count is known before
        // growing the list: capacity is bounded by the bytes present, not by any claim in the input.
        int count = 0;
        foreach (byte b in packed._data)
            if ((b & 0x80) == 0) count++;
        into.EnsureCapacity(into.Count + count);
        while (!packed.IsAtEnd)
            into.Add((long)packed.ReadVarint());
    }

    /// <summary>Repeated fixed32 field occurrence (packed or not), e.g. <c>TensorProto.float_data</c>.</summary>
    public void ReadRepeatedFixed32(WireType wireType, List<uint> into, int fieldNumber)
    {
        if (wireType == WireType.Fixed32)
        {
            into.Add(ReadFixed32());
            return;
        }
        ExpectWireType(wireType, WireType.LengthDelimited, fieldNumber);
        int at = Offset;
        var packed = ReadLengthDelimited();
        if (packed.Length % 4 != 0)
            throw Error($"packed fixed32 field {fieldNumber} has {packed.Length} bytes, not a multiple of 4", at);
        into.EnsureCapacity(into.Count + packed.Length / 4);
        for (int i = 0; i < packed.Length; i += 4)
            into.Add(BinaryPrimitives.ReadUInt32LittleEndian(packed.Slice(i, 4)));
    }

    /// <summary>Repeated fixed64 field occurrence (packed or not), e.g. <c>TensorProto.double_data</c>.</summary>
    public void ReadRepeatedFixed64(WireType wireType, List<ulong> into, int fieldNumber)
    {
        if (wireType == WireType.Fixed64)
        {
            into.Add(ReadFixed64());
            return;
        }
        ExpectWireType(wireType, WireType.LengthDelimited, fieldNumber);
        int at = Offset;
        var packed = ReadLengthDelimited();
        if (packed.Length % 8 != 0)
            throw Error($"packed fixed64 field {fieldNumber} has {packed.Length} bytes, not a multiple of 8", at);
        into.EnsureCapacity(into.Count + packed.Length / 8);
        for (int i = 0; i < packed.Length; i += 8)
            into.Add(BinaryPrimitives.ReadUInt64LittleEndian(packed.Slice(i, 8)));
    }

    /// <summary>Throws unless the field arrived with the wire type its schema declares.</summary>
    public readonly void ExpectWireType(WireType actual, WireType expected, int fieldNumber)
    {
        if (actual != expected)
            throw Error($"field {fieldNumber} has wire type {actual}, expected {expected}", Offset);
    }

    /// <summary>Builds an exception that names this message and an absolute offset.</summary>
    public readonly OnnxFormatException Error(string what, int offset) =>
        new($"Malformed {_context} at byte {offset}: {what}.");

    private ReadOnlySpan<byte> ReadLengthDelimitedAt(out int start)
    {
        int at = Offset;
        ulong len = ReadVarint();
        if (len > (ulong)(_data.Length - _pos))
            throw Error($"length-delimited field claims {len} bytes but only {_data.Length - _pos} remain", at);
        start = Offset;
        var slice = _data.Slice(_pos, (int)len);
        _pos += (int)len;
        return slice;
    }

    private readonly void Require(int n, string what)
    {
        if (_data.Length - _pos < n)
            throw Error($"truncated {what} (needs {n} bytes, {_data.Length - _pos} remain)", Offset);
    }

    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}
