using EdgeAgent.OnnxFormat.Generators;

namespace EdgeAgent.OnnxFormat.Tests.Models;

public sealed class ModelInfoTests
{
    [Fact]
    public void Every_model_of_the_onnx_backend_test_data_parses()
    {
        int count = 0;
        foreach (string path in OnnxTestData.AllModels())
        {
            var info = ModelInfo.ParseFile(path);
            Assert.True(info.IrVersion >= 3, path);
            Assert.NotEmpty(info.OpsetImports);
            Assert.NotEmpty(info.Outputs);
            count++;
        }
        Assert.True(count > 1000, $"only {count} models");
    }

    [Fact]
    public void QuantizeLinear_backend_model_facts_are_read()
    {
        var info = ModelInfo.ParseFile(Path.Combine(OnnxTestData.NodeDir("test_quantizelinear"), "model.onnx"));
        Assert.Equal("backend-test", info.ProducerName);
        Assert.Equal("test_quantizelinear", info.GraphName);
        Assert.Equal(new[] { "x", "y_scale", "y_zero_point" }, info.Inputs.Select(i => i.Name));
        Assert.Equal("y", Assert.Single(info.Outputs).Name);
        Assert.Equal(OnnxElementType.Float, info.Inputs[0].ElementType);
        Assert.Equal(OnnxElementType.UInt8, info.Inputs[2].ElementType);
        Assert.Equal(1, info.NodeCount);
        Assert.Equal(1, info.OpTypeHistogram["QuantizeLinear"]);
        Assert.True(info.DefaultOpsetVersion >= 10);
    }

    [Fact]
    public void QLinearConv_backend_model_has_nine_inputs_and_a_uint8_output()
    {
        var info = ModelInfo.ParseFile(Path.Combine(OnnxTestData.NodeDir("test_qlinearconv"), "model.onnx"));
        Assert.Equal(8, info.Inputs.Count);
        Assert.Equal(OnnxElementType.UInt8, Assert.Single(info.Outputs).ElementType);
        Assert.Equal(new OnnxDim[] { 1, 1, 7, 7 }, info.Inputs[0].Shape);
        Assert.Equal(10, info.DefaultOpsetVersion);
    }

    [Fact]
    public void Built_model_reads_back_with_all_its_declared_facts()
    {
        var b = new OnnxModelBuilder
        {
            IrVersion = 9,
            ProducerName = "edgeagent-modelgen",
            ProducerVersion = "0.1",
            Domain = "io.edgeagent",
            ModelVersion = 42,
            DocString = "doc",
            GraphName = "g",
        };
        b.AddOpset("", 17).AddOpset("com.microsoft", 1);
        b.AddInput("x", OnnxElementType.Float, ["batch", 64]);
        b.AddInitializer(OnnxTensor.Create("w", [64, 4], new float[256]));
        b.AddInitializer(OnnxTensor.Create("s", [], new[] { "a" }));
        b.AddOutput("y", OnnxElementType.Float, ["batch", 4]);
        b.AddOutput("z", OnnxElementType.Int64, null);
        b.AddNode("MatMul", ["x", "w"], ["y"]);
        b.AddNode("Shape", ["y"], ["z"]).WithInt("start", 0).WithInts("unused", 1, 2).WithFloats("f", 0.5f)
            .WithFloat("g", 2f).WithString("h", "v").WithTensor("t", OnnxTensor.Create("", [1], new long[] { 3 }));
        b.AddNode("Gelu", ["y"], ["q"], domain: "com.microsoft");
        b.AddMetadata("labels", "idle,walk").AddMetadata("window", "128");

        var info = ModelInfo.Parse(b.Build());

        Assert.Equal(9, info.IrVersion);
        Assert.Equal("edgeagent-modelgen", info.ProducerName);
        Assert.Equal("0.1", info.ProducerVersion);
        Assert.Equal("io.edgeagent", info.Domain);
        Assert.Equal(42, info.ModelVersion);
        Assert.Equal("doc", info.DocString);
        Assert.Equal("g", info.GraphName);
        Assert.Equal(new[] { new OnnxOpsetImport("", 17), new OnnxOpsetImport("com.microsoft", 1) }, info.OpsetImports);
        var x = Assert.Single(info.Inputs);
        Assert.Equal("x: float32[batch,64]", x.ToString());
        Assert.False(x.HasFixedShape);
        Assert.Equal("y: float32[batch,4]", info.Outputs[0].ToString());
        Assert.Null(info.Outputs[1].Shape);
        Assert.Equal(2, info.InitializerCount);
        Assert.Equal(256 * 4 + 1, info.InitializerBytes);
        Assert.Equal(3, info.NodeCount);
        Assert.Equal(1, info.OpTypeHistogram["com.microsoft:Gelu"]);
        Assert.Equal("idle,walk", info.GetMetadata("labels"));
        Assert.Equal("128", info.GetMetadata("window"));
    }

    public static TheoryData<OnnxElementType> ModelTypes() =>
        [OnnxElementType.Float, OnnxElementType.Double, OnnxElementType.Int8, OnnxElementType.UInt8, OnnxElementType.Int16,
         OnnxElementType.Int32, OnnxElementType.Int64, OnnxElementType.Bool, OnnxElementType.Float16];

    [Theory]
    [MemberData(nameof(ModelTypes))]
    public void Identity_and_cast_models_declare_the_requested_types_and_shapes(OnnxElementType type)
    {
        var id = ModelInfo.Parse(SimpleModels.Identity(type, ["n", 3]));
        Assert.Equal(type, id.Inputs[0].ElementType);
        Assert.Equal(new OnnxDim[] { "n", 3 }, id.Outputs[0].Shape);
        Assert.Equal(1, id.OpTypeHistogram["Identity"]);
        Assert.Equal(13, id.DefaultOpsetVersion);

        var cast = ModelInfo.Parse(SimpleModels.Cast(OnnxElementType.Float, type, [2, 2]));
        Assert.Equal(OnnxElementType.Float, cast.Inputs[0].ElementType);
        Assert.Equal(type, cast.Outputs[0].ElementType);
        Assert.Equal("edgeagent-modelgen", cast.ProducerName);
    }

    [Fact]
    public void Empty_input_is_rejected_as_an_empty_model()
    {
        var e = Assert.Throws<OnnxFormatException>(() => ModelInfo.Parse([]));
        Assert.Contains("empty", e.Message);
    }

    [Fact]
    public void Text_file_is_rejected_as_not_an_onnx_model()
    {
        Assert.Throws<OnnxFormatException>(() => ModelInfo.Parse("{\"not\":\"onnx\"}"u8));
    }

    [Fact]
    public void A_length_claiming_gigabytes_fails_fast_without_allocating_it()
    {
        // ModelProto.graph (field 7, length-delimited) claiming ~2 GB in a 7-byte file.
        byte[] bytes = [0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x00];
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<OnnxFormatException>(() => ModelInfo.Parse(bytes));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Contains("claims", e.Message);
        Assert.True(allocated < 1_000_000, $"allocated {allocated} bytes");
    }

    [Fact]
    public void Every_truncation_of_a_real_model_is_parsed_or_rejected_with_a_format_exception()
    {
        byte[] bytes = File.ReadAllBytes(Path.Combine(OnnxTestData.NodeDir("test_qlinearconv"), "model.onnx"));
        int rejected = 0;
        for (int len = 0; len < bytes.Length; len++)
        {
            try { ModelInfo.Parse(bytes.AsSpan(0, len)); }
            catch (OnnxFormatException) { rejected++; }
        }
        Assert.True(rejected > bytes.Length / 2, $"{rejected} of {bytes.Length} truncations rejected");
    }

    [Fact]
    public void Randomly_corrupted_models_never_throw_anything_but_a_format_exception()
    {
        byte[] original = SimpleModels.Cast(OnnxElementType.Float, OnnxElementType.Int8, ["batch", 16]);
        var rng = new Random(1234);
        int iterations = Environment.GetEnvironmentVariable("EDGEAGENT_LONG_TESTS") == "1" ? 200_000 : 5_000;
        for (int i = 0; i < iterations; i++)
        {
            byte[] bytes = (byte[])original.Clone();
            int flips = rng.Next(1, 4);
            for (int f = 0; f < flips; f++) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            try { ModelInfo.Parse(bytes); }
            catch (OnnxFormatException) { }
        }
    }

    [Fact]
    public void Builder_refuses_a_model_without_opset_or_outputs()
    {
        var b = new OnnxModelBuilder();
        b.AddOutput("y", OnnxElementType.Float, [1]);
        Assert.Contains("opset", Assert.Throws<InvalidOperationException>(() => b.Build()).Message);
        var c = new OnnxModelBuilder();
        c.AddOpset("", 13);
        Assert.Contains("output", Assert.Throws<InvalidOperationException>(() => c.Build()).Message);
    }

    [Fact]
    public void Builder_refuses_duplicate_value_names()
    {
        var b = new OnnxModelBuilder();
        b.AddInput("x", OnnxElementType.Float, [1]);
        Assert.Throws<ArgumentException>(() => b.AddInitializer(OnnxTensor.Create("x", [1], new float[1])));
    }

    [Fact]
    public void Summary_text_lists_contract_ops_and_metadata()
    {
        var info = ModelInfo.Parse(QdqCnn1d.Generate().OnnxBytes);
        string text = info.Format();
        Assert.Contains("producer:      edgeagent-modelgen 1", text);
        Assert.Contains("opsets:        ai.onnx v13", text);
        Assert.Contains("  window: float32[1,3,128]", text);
        Assert.Contains("  probabilities: float32[1,4]", text);
        Assert.Contains("DequantizeLinear", text);
        Assert.Contains("  labels = idle,walk,run,vibration_fault", text);
    }

    [Fact]
    public void Summary_json_is_valid_and_keeps_symbolic_and_unknown_dims()
    {
        var b = new OnnxModelBuilder();
        b.AddOpset("", 13);
        b.AddInput("x", OnnxElementType.Int8, ["batch", 3, OnnxDim.Unknown]);
        b.AddOutput("y", OnnxElementType.Int8, null);
        b.AddNode("Identity", ["x"], ["y"]);
        b.AddMetadata("k", "v\"q");
        var info = ModelInfo.Parse(b.Build());
        using var stream = new MemoryStream();
        using (var w = new System.Text.Json.Utf8JsonWriter(stream)) info.WriteJson(w);
        using var doc = System.Text.Json.JsonDocument.Parse(stream.ToArray());
        var root = doc.RootElement;
        Assert.Equal(8, root.GetProperty("ir_version").GetInt64());
        var shape = root.GetProperty("inputs")[0].GetProperty("shape");
        Assert.Equal("batch", shape[0].GetString());
        Assert.Equal(3, shape[1].GetInt32());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, shape[2].ValueKind);
        Assert.Equal("int8", root.GetProperty("inputs")[0].GetProperty("element_type").GetString());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, root.GetProperty("outputs")[0].GetProperty("shape").ValueKind);
        Assert.Equal(1, root.GetProperty("op_types").GetProperty("Identity").GetInt32());
        Assert.Equal("v\"q", root.GetProperty("metadata_props").GetProperty("k").GetString());
    }

    [Fact]
    public void Quantization_format_and_weight_bytes_per_type_are_reported()
    {
        var qdq = ModelInfo.Parse(QdqMlp.Generate().OnnxBytes);
        Assert.Equal("QDQ", qdq.QuantizationFormat);
        Assert.Equal(64 * 256 + 256 * 256 + 256 * 4 + 3 + 3, qdq.InitializerBytesByType["int8"]); // weights + zero points
        Assert.Contains("quantization:  QDQ", qdq.Format());

        var qop = ModelInfo.ParseFile(Path.Combine(OnnxTestData.NodeDir("test_qlinearmatmul_2D"), "model.onnx"));
        Assert.Equal("QOperator", qop.QuantizationFormat);
        var dyn = ModelInfo.ParseFile(Path.Combine(OnnxTestData.NodeDir("test_dynamicquantizelinear"), "model.onnx"));
        Assert.Equal("dynamic", dyn.QuantizationFormat);
        var plain = ModelInfo.Parse(QdqMlp.Generate(new QdqMlpOptions { FloatBaseline = true }).OnnxBytes);
        Assert.Equal("none", plain.QuantizationFormat);
        Assert.False(plain.InitializerBytesByType.ContainsKey("int8"));
    }
}

public sealed class ModelInfoHostileInputTests
{
    [Fact]
    public void Initializers_claiming_absurd_dims_do_not_overflow_the_byte_count()
    {
        var tensor = new EdgeAgent.OnnxFormat.Protobuf.ProtoWriter();
        tensor.WriteInt64Field(1, long.MaxValue / 2);
        tensor.WriteInt64Field(1, 1L << 40);
        tensor.WriteInt32Field(2, (int)OnnxElementType.Double);
        tensor.WriteStringField(8, "huge");
        var graph = new EdgeAgent.OnnxFormat.Protobuf.ProtoWriter();
        graph.WriteMessage(5, tensor);
        graph.WriteMessage(5, tensor);
        var model = new EdgeAgent.OnnxFormat.Protobuf.ProtoWriter();
        model.WriteInt64Field(1, 8);
        model.WriteMessage(7, graph);
        var info = ModelInfo.Parse(model.WrittenSpan);
        Assert.Equal(2, info.InitializerCount);
        Assert.Equal(long.MaxValue, info.InitializerBytes);
        // Decoding them is refused instead of attempted.
        Assert.Throws<OnnxFormatException>(() => ModelInfo.ReadInitializers(model.WrittenSpan));
    }
}
