using EdgeAgent.OnnxFormat.Protobuf;

namespace EdgeAgent.OnnxFormat.Tests.Protobuf;

public sealed class ProtoWireTests
{
    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(127UL)]
    [InlineData(128UL)]
    [InlineData(300UL)]
    [InlineData(uint.MaxValue)]
    [InlineData(ulong.MaxValue)]
    public void Varint_round_trips(ulong value)
    {
        var w = new ProtoWriter();
        w.WriteVarint(value);
        var r = new ProtoReader(w.WrittenSpan, "test");
        Assert.Equal(value, r.ReadVarint());
        Assert.True(r.IsAtEnd);
    }

    [Fact]
    public void Varint_300_is_encoded_as_in_the_protobuf_encoding_guide()
    {
        var w = new ProtoWriter();
        w.WriteVarint(300);
        Assert.Equal(new byte[] { 0xAC, 0x02 }, w.ToArray());
    }

    [Fact]
    public void Negative_int32_is_sign_extended_to_ten_bytes_and_reads_back()
    {
        var w = new ProtoWriter();
        w.WriteInt32Field(1, -2);
        Assert.Equal(11, w.Length);
        var r = new ProtoReader(w.WrittenSpan, "test");
        Assert.True(r.TryReadTag(out int f, out var wt));
        Assert.Equal((1, WireType.Varint), (f, wt));
        Assert.Equal(-2, r.ReadInt32());
    }

    [Fact]
    public void Fixed_and_length_delimited_fields_round_trip()
    {
        var w = new ProtoWriter();
        w.WriteFloatField(2, 1.5f);
        w.WriteTag(3, WireType.Fixed64);
        w.WriteFixed64(0x0102030405060708);
        w.WriteStringField(4, "héllo");
        w.WritePackedVarints(5, [1, -1, 300]);
        w.WritePackedFixed32(6, [1u, 2u]);
        w.WritePackedFixed64(7, [3ul]);

        var r = new ProtoReader(w.WrittenSpan, "test");
        Assert.True(r.TryReadTag(out _, out _));
        Assert.Equal(1.5f, r.ReadFloat());
        Assert.True(r.TryReadTag(out _, out _));
        Assert.Equal(0x0102030405060708UL, r.ReadFixed64());
        Assert.True(r.TryReadTag(out _, out _));
        Assert.Equal("héllo", r.ReadString());
        Assert.True(r.TryReadTag(out int f5, out var wt5));
        var longs = new List<long>();
        r.ReadRepeatedVarint(wt5, longs, f5);
        Assert.Equal(new long[] { 1, -1, 300 }, longs);
        Assert.True(r.TryReadTag(out int f6, out var wt6));
        var u32 = new List<uint>();
        r.ReadRepeatedFixed32(wt6, u32, f6);
        Assert.Equal(new uint[] { 1, 2 }, u32);
        Assert.True(r.TryReadTag(out int f7, out var wt7));
        var u64 = new List<ulong>();
        r.ReadRepeatedFixed64(wt7, u64, f7);
        Assert.Equal(new ulong[] { 3 }, u64);
        Assert.False(r.TryReadTag(out _, out _));
    }

    [Fact]
    public void Repeated_varint_accepts_the_unpacked_encoding_too()
    {
        var w = new ProtoWriter();
        w.WriteInt64Field(1, 5);
        w.WriteInt64Field(1, 7);
        var r = new ProtoReader(w.WrittenSpan, "test");
        var into = new List<long>();
        while (r.TryReadTag(out int f, out var wt)) r.ReadRepeatedVarint(wt, into, f);
        Assert.Equal(new long[] { 5, 7 }, into);
    }

    [Theory]
    [InlineData(new byte[] { 0x80 }, "truncated varint")]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 }, "varint")]
    [InlineData(new byte[] { 0x0A, 0x05, 0x01 }, "claims 5 bytes but only 1 remain")]
    [InlineData(new byte[] { 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F }, "claims 4294967295 bytes")]
    [InlineData(new byte[] { 0x0D, 0x01, 0x02 }, "truncated fixed32")]
    [InlineData(new byte[] { 0x09, 0x01 }, "truncated fixed64")]
    [InlineData(new byte[] { 0x0E }, "invalid wire type 6")]
    [InlineData(new byte[] { 0x00 }, "invalid field number 0")]
    [InlineData(new byte[] { 0x0B }, "group")]
    public void Malformed_input_is_rejected_with_a_message_naming_the_problem(byte[] bytes, string expected)
    {
        var e = Assert.Throws<OnnxFormatException>(() =>
        {
            var r = new ProtoReader(bytes, "TestMessage");
            while (r.TryReadTag(out _, out var wt)) r.SkipField(wt);
        });
        Assert.Contains(expected, e.Message);
        Assert.Contains("TestMessage", e.Message);
    }

    [Fact]
    public void Packed_fixed32_with_a_partial_element_is_rejected()
    {
        byte[] bytes = [0x22, 0x03, 1, 2, 3];
        var e = Assert.Throws<OnnxFormatException>(() =>
        {
            var r = new ProtoReader(bytes, "t");
            r.TryReadTag(out int f, out var wt);
            r.ReadRepeatedFixed32(wt, new List<uint>(), f);
        });
        Assert.Contains("not a multiple of 4", e.Message);
    }

    [Fact]
    public void Invalid_utf8_in_a_string_field_is_rejected()
    {
        byte[] bytes = [0x0A, 0x02, 0xC3, 0x28];
        var e = Assert.Throws<OnnxFormatException>(() =>
        {
            var r = new ProtoReader(bytes, "t");
            r.TryReadTag(out _, out _);
            r.ReadString();
        });
        Assert.Contains("UTF-8", e.Message);
    }
}
