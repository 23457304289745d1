namespace EdgeAgent.OnnxFormat.Tests.Tensors;

public sealed class TensorProtoCodecTests
{
    public static TheoryData<OnnxElementType, TensorDataEncoding> AllTypes()
    {
        var data = new TheoryData<OnnxElementType, TensorDataEncoding>();
        foreach (var t in Enum.GetValues<OnnxElementType>().Where(ElementTypes.IsSupported))
            foreach (var e in Enum.GetValues<TensorDataEncoding>())
                data.Add(t, e);
        return data;
    }

    internal static OnnxTensor Sample(OnnxElementType type, long[] dims, int seed = 1)
    {
        var rng = new Random(seed);
        int n = (int)OnnxTensor.ElementCountOf(dims)!.Value;
        Array data = type switch
        {
            OnnxElementType.Float => Enumerable.Range(0, n).Select(i => i switch { 0 => float.NaN, 1 => -0f, 2 => float.PositiveInfinity, _ => (float)(rng.NextDouble() * 200 - 100) }).ToArray(),
            OnnxElementType.Double => Enumerable.Range(0, n).Select(i => i == 0 ? double.NegativeInfinity : rng.NextDouble() * 1e10 - 5e9).ToArray(),
            OnnxElementType.Float16 => Enumerable.Range(0, n).Select(i => i == 0 ? Half.MaxValue : (Half)(rng.NextDouble() * 20 - 10)).ToArray(),
            OnnxElementType.Int8 => Enumerable.Range(0, n).Select(i => i switch { 0 => sbyte.MinValue, 1 => sbyte.MaxValue, _ => (sbyte)rng.Next(-128, 128) }).ToArray(),
            OnnxElementType.UInt8 => Enumerable.Range(0, n).Select(i => i == 0 ? byte.MaxValue : (byte)rng.Next(256)).ToArray(),
            OnnxElementType.Int16 => Enumerable.Range(0, n).Select(i => i == 0 ? short.MinValue : (short)rng.Next(short.MinValue, short.MaxValue)).ToArray(),
            OnnxElementType.UInt16 => Enumerable.Range(0, n).Select(i => i == 0 ? ushort.MaxValue : (ushort)rng.Next(65536)).ToArray(),
            OnnxElementType.Int32 => Enumerable.Range(0, n).Select(i => i == 0 ? int.MinValue : rng.Next()).ToArray(),
            OnnxElementType.UInt32 => Enumerable.Range(0, n).Select(i => i == 0 ? uint.MaxValue : (uint)rng.Next()).ToArray(),
            OnnxElementType.Int64 => Enumerable.Range(0, n).Select(i => i == 0 ? long.MinValue : rng.NextInt64()).ToArray(),
            OnnxElementType.UInt64 => Enumerable.Range(0, n).Select(i => i == 0 ? ulong.MaxValue : (ulong)rng.NextInt64()).ToArray(),
            OnnxElementType.Bool => Enumerable.Range(0, n).Select(_ => rng.Next(2) == 1).ToArray(),
            OnnxElementType.String => Enumerable.Range(0, n).Select(i => i == 0 ? "" : $"s{rng.Next()}é☃").ToArray(),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
        return OnnxTensor.Create($"t_{type}", type, dims, data);
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Every_element_type_round_trips_through_TensorProto(OnnxElementType type, TensorDataEncoding encoding)
    {
        foreach (long[] dims in new[] { new long[] { 2, 3, 4 }, [], [0, 5], [7] })
        {
            var tensor = Sample(type, dims);
            var back = TensorProtoCodec.Read(TensorProtoCodec.Write(tensor, encoding));
            Assert.Equal(tensor.Name, back.Name);
            Assert.True(tensor.ContentEquals(back), $"{type} {encoding} [{string.Join(',', dims)}] differs after round trip");
        }
    }

    [Fact]
    public void Float_raw_data_is_little_endian_ieee754()
    {
        var t = OnnxTensor.Create("x", [1], new[] { 1.0f });
        Assert.Equal(new byte[] { 0, 0, 0x80, 0x3F }, TensorProtoCodec.EncodeRaw(t));
    }

    [Fact]
    public void Quantization_test_tensors_of_the_onnx_backend_suite_are_read()
    {
        string[] tests = ["test_quantizelinear", "test_quantizelinear_axis", "test_dequantizelinear", "test_dequantizelinear_axis",
            "test_qlinearconv", "test_qlinearmatmul_2D", "test_qlinearmatmul_3D", "test_dynamicquantizelinear",
            "test_dynamicquantizelinear_max_adjusted", "test_dynamicquantizelinear_min_adjusted",
            "test_cast_FLOAT_to_FLOAT16", "test_cast_FLOAT16_to_DOUBLE", "test_cast_FLOAT_to_STRING", "test_cast_STRING_to_FLOAT"];
        int files = 0;
        foreach (string test in tests)
        {
            foreach (string pb in Directory.EnumerateFiles(OnnxTestData.NodeDir(test), "*.pb", SearchOption.AllDirectories))
            {
                var t = TensorProtoCodec.ReadFile(pb);
                Assert.Equal(OnnxTensor.ElementCountOf(t.Dims), t.ElementCount);
                // Writing and reading back must reproduce exactly what the onnx package wrote.
                Assert.True(t.ContentEquals(TensorProtoCodec.Read(TensorProtoCodec.Write(t))), pb);
                files++;
            }
        }
        Assert.True(files >= 40, $"only {files} .pb files found");
    }

    [Fact]
    public void QuantizeLinear_backend_test_has_the_published_values()
    {
        // onnx/backend/test/case/node/quantizelinear.py: x = [0, 2, 3, 1000, -254, -1000], scale 2, zero point 128.
        string dir = Path.Combine(OnnxTestData.NodeDir("test_quantizelinear"), "test_data_set_0");
        var x = TensorProtoCodec.ReadFile(Path.Combine(dir, "input_0.pb"));
        var scale = TensorProtoCodec.ReadFile(Path.Combine(dir, "input_1.pb"));
        var zp = TensorProtoCodec.ReadFile(Path.Combine(dir, "input_2.pb"));
        var y = TensorProtoCodec.ReadFile(Path.Combine(dir, "output_0.pb"));
        Assert.Equal(new float[] { 0, 2, 3, 1000, -254, -1000 }, x.GetData<float>());
        Assert.Equal(2f, Assert.Single(scale.GetData<float>()));
        Assert.Equal(OnnxElementType.UInt8, zp.ElementType);
        Assert.Equal((byte)128, Assert.Single(zp.GetData<byte>()));
        Assert.Equal(new byte[] { 128, 129, 130, 255, 1, 0 }, y.GetData<byte>());
    }

    [Fact]
    public void Every_tensor_file_of_the_backend_suite_is_read_when_its_model_declares_a_supported_tensor()
    {
        // The model tells which input_N/output_N files are TensorProtos (others are SequenceProto or
        // OptionalProto); bfloat16, float8, int4 and complex tensors are outside what this library holds.
        int read = 0;
        foreach (string model in Directory.EnumerateFiles(Path.Combine(OnnxTestData.Root, "node"), "model.onnx", SearchOption.AllDirectories))
        {
            var info = ModelInfo.ParseFile(model);
            string dir = Path.GetDirectoryName(model)!;
            foreach (string set in Directory.EnumerateDirectories(dir, "test_data_set_*"))
            {
                foreach (var (values, prefix) in new[] { (info.Inputs, "input"), (info.Outputs, "output") })
                {
                    for (int i = 0; i < values.Count; i++)
                    {
                        string pb = Path.Combine(set, $"{prefix}_{i}.pb");
                        if (!File.Exists(pb) || values[i].Kind != OnnxTypeKind.Tensor) continue;
                        if (!ElementTypes.IsSupported(values[i].ElementType))
                        {
                            var e = Record.Exception(() => TensorProtoCodec.ReadFile(pb));
                            // Some of these files hold the values as float32 (numpy has no bfloat16), so reading may succeed.
                            Assert.True(e is null || (e is OnnxFormatException && e.Message.Contains("not supported")), $"{pb} ({values[i]}): {e?.Message}");
                            continue;
                        }
                        var t = TensorProtoCodec.ReadFile(pb);
                        Assert.Equal(values[i].ElementType, t.ElementType);
                        read++;
                    }
                }
            }
        }
        Assert.True(read > 2000, $"read only {read} tensors");
    }

    [Fact]
    public void Raw_data_length_that_does_not_match_the_shape_is_rejected_before_allocating()
    {
        var w = new EdgeAgent.OnnxFormat.Protobuf.ProtoWriter();
        w.WriteInt64Field(1, 1L << 40);   // dims: a trillion floats
        w.WriteInt64Field(1, 1L << 20);
        w.WriteInt32Field(2, (int)OnnxElementType.Float);
        w.WriteStringField(8, "w");
        w.WriteBytesField(9, new byte[16]);
        var e = Assert.Throws<OnnxFormatException>(() => TensorProtoCodec.Read(w.WrittenSpan));
        Assert.Contains("'w'", e.Message);
    }

    [Fact]
    public void Typed_value_count_that_does_not_match_the_shape_is_rejected()
    {
        var w = new EdgeAgent.OnnxFormat.Protobuf.ProtoWriter();
        w.WriteInt64Field(1, 3);
        w.WriteInt32Field(2, (int)OnnxElementType.Int64);
        w.WritePackedVarints(7, [1, 2]);
        var e = Assert.Throws<OnnxFormatException>(() => TensorProtoCodec.Read(w.WrittenSpan));
        Assert.Contains("3 elements", e.Message);
        Assert.Contains("2 values", e.Message);
    }

    [Fact]
    public void Int8_value_out_of_range_in_int32_data_is_rejected()
    {
        var w = new EdgeAgent.OnnxFormat.Protobuf.ProtoWriter();
        w.WriteInt64Field(1, 1);
        w.WriteInt32Field(2, (int)OnnxElementType.Int8);
        w.WritePackedVarints(5, [200]);
        var e = Assert.Throws<OnnxFormatException>(() => TensorProtoCodec.Read(w.WrittenSpan));
        Assert.Contains("out of range for int8", e.Message);
    }

    [Fact]
    public void External_data_is_rejected_with_advice()
    {
        var w = new EdgeAgent.OnnxFormat.Protobuf.ProtoWriter();
        w.WriteInt64Field(1, 4);
        w.WriteInt32Field(2, (int)OnnxElementType.Float);
        w.WriteStringField(8, "big");
        w.WriteInt32Field(14, 1);
        var e = Assert.Throws<OnnxFormatException>(() => TensorProtoCodec.Read(w.WrittenSpan));
        Assert.Contains("external", e.Message);
    }

    [Fact]
    public void Tensor_creation_rejects_a_value_count_that_does_not_match_the_shape()
    {
        var e = Assert.Throws<ArgumentException>(() => OnnxTensor.Create("x", [2, 3], new float[5]));
        Assert.Contains("[2,3]", e.Message);
    }

    [Fact]
    public void Truncated_tensor_bytes_never_throw_anything_but_a_format_exception()
    {
        byte[] bytes = TensorProtoCodec.Write(Sample(OnnxElementType.Float, [4, 4]));
        for (int len = 0; len < bytes.Length; len++)
        {
            try
            {
                TensorProtoCodec.Read(bytes.AsSpan(0, len));
            }
            catch (OnnxFormatException)
            {
            }
        }
    }
}
