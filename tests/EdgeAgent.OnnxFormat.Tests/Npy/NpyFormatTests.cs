using System.Text;
using EdgeAgent.OnnxFormat.Tests.Tensors;

namespace EdgeAgent.OnnxFormat.Tests.Npy;

public sealed class NpyFormatTests
{
    public static TheoryData<OnnxElementType> NpyTypes() =>
    [
        OnnxElementType.Float, OnnxElementType.Double, OnnxElementType.Float16, OnnxElementType.Int8, OnnxElementType.UInt8,
        OnnxElementType.Int16, OnnxElementType.UInt16, OnnxElementType.Int32, OnnxElementType.UInt32, OnnxElementType.Int64,
        OnnxElementType.UInt64, OnnxElementType.Bool,
    ];

    [Theory]
    [MemberData(nameof(NpyTypes))]
    public void Every_supported_dtype_round_trips(OnnxElementType type)
    {
        foreach (long[] dims in new[] { new long[] { 2, 3, 4 }, [], [0], [5], [1, 128, 3] })
        {
            var t = TensorProtoCodecTests.Sample(type, dims);
            byte[] bytes = NpyFormat.Write(t);
            Assert.Equal(0, HeaderEnd(bytes) % 64);
            var back = NpyFormat.Read(bytes, t.Name);
            Assert.True(t.ContentEquals(back), $"{type} [{string.Join(',', dims)}]");
        }
    }

    [Fact]
    public void Written_header_is_the_dict_numpy_expects()
    {
        byte[] bytes = NpyFormat.Write(OnnxTensor.Create("x", [2, 3], new float[6]));
        Assert.Equal(0x93, bytes[0]);
        Assert.Equal("NUMPY", Encoding.ASCII.GetString(bytes, 1, 5));
        Assert.Equal((1, 0), (bytes[6], bytes[7]));
        string header = Encoding.ASCII.GetString(bytes, 10, bytes[8] | bytes[9] << 8);
        Assert.StartsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", header);
        Assert.EndsWith("\n", header);
        Assert.Equal(6 * 4, bytes.Length - HeaderEnd(bytes));
        Assert.Contains("'shape': (7,)", Header(NpyFormat.Write(OnnxTensor.Create("v", [7], new int[7]))));
        Assert.Contains("'shape': ()", Header(NpyFormat.Write(OnnxTensor.Create("s", [], new long[1]))));
        Assert.Contains("'descr': '|b1'", Header(NpyFormat.Write(OnnxTensor.Create("b", [1], new bool[1]))));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Version_2_and_3_headers_are_read(byte major)
    {
        string dict = "{\"shape\": (3L,), \"descr\": \"<i2\", \"fortran_order\": False}";
        byte[] bytes = Build(major, dict, [1, 0, 2, 0, 0xFF, 0xFF]);
        var t = NpyFormat.Read(bytes, "v");
        Assert.Equal(new long[] { 3 }, t.Dims);
        Assert.Equal(new short[] { 1, 2, -1 }, t.GetData<short>());
    }

    [Fact]
    public void Single_byte_dtypes_accept_any_byte_order_mark()
    {
        var t = NpyFormat.Read(Build(1, "{'descr': '<u1', 'fortran_order': False, 'shape': (2,), }", [7, 250]));
        Assert.Equal(new byte[] { 7, 250 }, t.GetData<byte>());
    }

    [Theory]
    [InlineData("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", "Fortran")]
    [InlineData("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", "big-endian")]
    [InlineData("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", "object and string arrays")]
    [InlineData("{'descr': '<U5', 'fortran_order': False, 'shape': (2,), }", "not supported")]
    [InlineData("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", "not supported")]
    [InlineData("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, }", "lacks")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "unexpected key 'extra'")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", "non-negative integer")]
    [InlineData("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "True or False")]
    [InlineData("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) ", "expected '}'")]
    [InlineData("['descr']", "expected '{'")]
    public void Unsupported_or_malformed_headers_are_rejected_with_a_clear_message(string dict, string expected)
    {
        var e = Assert.Throws<OnnxFormatException>(() => NpyFormat.Read(Build(1, dict, new byte[8])));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Truncated_data_is_rejected()
    {
        byte[] bytes = NpyFormat.Write(OnnxTensor.Create("x", [4], new float[4]));
        var e = Assert.Throws<OnnxFormatException>(() => NpyFormat.Read(bytes.AsSpan(0, bytes.Length - 1)));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Extra_bytes_after_the_data_are_rejected()
    {
        byte[] bytes = [.. NpyFormat.Write(OnnxTensor.Create("x", [4], new float[4])), 0];
        Assert.Contains("extra bytes", Assert.Throws<OnnxFormatException>(() => NpyFormat.Read(bytes)).Message);
    }

    [Fact]
    public void A_huge_shape_with_little_data_fails_before_allocating()
    {
        byte[] bytes = Build(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000, 100000), }", new byte[8]);
        Assert.Throws<OnnxFormatException>(() => NpyFormat.Read(bytes));
    }

    [Fact]
    public void Other_files_and_versions_are_rejected()
    {
        Assert.Contains("magic", Assert.Throws<OnnxFormatException>(() => NpyFormat.Read("PK\x03\x04 not npy"u8)).Message);
        Assert.Contains("version 4.0", Assert.Throws<OnnxFormatException>(() => NpyFormat.Read(Build(4, "{}", []))).Message);
        byte[] shortHeader = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, 0xFF, 0x00, (byte)'{'];
        Assert.Contains("header claims 255 bytes", Assert.Throws<OnnxFormatException>(() => NpyFormat.Read(shortHeader)).Message);
    }

    [Fact]
    public void String_tensors_cannot_be_written()
    {
        Assert.Throws<OnnxFormatException>(() => NpyFormat.Write(OnnxTensor.Create("s", [1], new[] { "a" })));
    }

    [Fact]
    public void Files_round_trip_and_take_their_name_from_the_file()
    {
        string path = Path.Combine(Path.GetTempPath(), $"edgeagent-npy-{Guid.NewGuid():N}.npy");
        try
        {
            NpyFormat.WriteFile(path, OnnxTensor.Create("x", [2], new[] { 1.5, -2.5 }));
            var t = NpyFormat.ReadFile(path);
            Assert.Equal(Path.GetFileNameWithoutExtension(path), t.Name);
            Assert.Equal(new[] { 1.5, -2.5 }, t.GetData<double>());
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static byte[] Build(byte major, string dict, byte[] data)
    {
        int preamble = major == 1 ? 10 : 12;
        int total = (preamble + dict.Length + 1 + 63) / 64 * 64;
        string header = dict.PadRight(total - preamble - 1) + "\n";
        byte[] h = Encoding.UTF8.GetBytes(header);
        var result = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', major, 0 };
        result.AddRange(major == 1 ? BitConverter.GetBytes((ushort)h.Length) : BitConverter.GetBytes((uint)h.Length));
        result.AddRange(h);
        result.AddRange(data);
        return result.ToArray();
    }

    private static int HeaderEnd(byte[] bytes) => bytes[6] == 1 ? 10 + (bytes[8] | bytes[9] << 8) : 12 + BitConverter.ToInt32(bytes, 8);

    private static string Header(byte[] bytes) => Encoding.ASCII.GetString(bytes, 10, bytes[8] | bytes[9] << 8);
}
