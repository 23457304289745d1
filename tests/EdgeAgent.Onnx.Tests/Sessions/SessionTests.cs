using System.Text;

namespace EdgeAgent.Onnx.Tests.Sessions;

public sealed class SessionTests
{
    [Fact]
    public void Session_from_file_exposes_names_types_and_shapes()
    {
        using var session = OnnxSession.Load(TestModels.NodeModel("test_identity"));

        var input = Assert.Single(session.Contract.Inputs);
        Assert.Equal("x", input.Name);
        Assert.Equal(OnnxValueKind.Tensor, input.Kind);
        Assert.Equal(OnnxElementType.Float, input.ElementType);
        Assert.Equal(new long[] { 1, 1, 2, 2 }, input.Shape);
        Assert.True(input.IsStatic);
        Assert.Equal("[1,1,2,2] float32", input.ToString());
        Assert.Equal("y", Assert.Single(session.Contract.Outputs).Name);
        Assert.Equal("backend-test", session.Metadata.ProducerName);
        Assert.Equal("test_identity", session.Metadata.GraphName);
    }

    [Fact]
    public void Dynamic_dimensions_are_minus_one_with_their_symbolic_names()
    {
        using var session = TestModels.Load(TestModels.Identity(OnnxElementType.Float, "batch", 64, OnnxDim.Unknown));

        var input = session.Contract.Inputs[0];
        Assert.Equal(new long[] { -1, 64, -1 }, input.Shape);
        Assert.Equal(new[] { "batch", "", "" }, input.SymbolicDims);
        Assert.False(input.IsStatic);
        Assert.Equal("[batch,64,?] float32", input.ToString());
    }

    [Fact]
    public void Model_metadata_is_read_including_the_custom_map()
    {
        var b = new OnnxModelBuilder
        {
            ProducerName = "edgeagent-tests",
            Domain = "io.edgeagent.test",
            DocString = "vibration anomaly detector",
            ModelVersion = 42,
            GraphName = "detector",
        };
        b.AddOpset("", 13);
        b.AddInput("x", OnnxElementType.Float, [1, 4]);
        b.AddOutput("y", OnnxElementType.Float, [1, 4]);
        b.AddNode("Identity", ["x"], ["y"]);
        b.AddMetadata("labels", "ok,anomaly");
        b.AddMetadata("release", "7");

        using var session = TestModels.Load(b.Build());

        var m = session.Metadata;
        Assert.Equal("edgeagent-tests", m.ProducerName);
        Assert.Equal("io.edgeagent.test", m.Domain);
        Assert.Equal("vibration anomaly detector", m.Description);
        Assert.Equal(42, m.Version);
        Assert.Equal("detector", m.GraphName);
        Assert.Equal(2, m.CustomMetadata.Count);
        Assert.Equal("ok,anomaly", m.CustomMetadata["labels"]);
        Assert.Equal("7", m.CustomMetadata["release"]);
    }

    [Fact]
    public void Session_from_bytes_and_from_file_give_the_same_results()
    {
        byte[] model = File.ReadAllBytes(TestModels.NodeModel("test_abs"));
        using var fromBytes = OnnxSession.Load(model, sourceName: "abs-in-memory");
        using var fromFile = OnnxSession.Load(TestModels.NodeModel("test_abs"));
        var x = TensorProtoCodec.ReadFile(Path.Combine(TestModels.NodeTestData, "test_abs/test_data_set_0/input_0.pb"));

        var a = fromBytes.Run([x])[0];
        var b = fromFile.Run([x])[0];

        Assert.Equal("abs-in-memory", fromBytes.Source);
        Assert.True(a.ContentEquals(b));
        Assert.Equal(x.GetData<float>().Select(MathF.Abs), a.GetData<float>());
    }

    [Fact]
    public void Options_are_applied_and_the_optimized_model_is_written()
    {
        string dir = Directory.CreateTempSubdirectory("edgeagent-opt").FullName;
        string optimized = Path.Combine(dir, "optimized.onnx");
        var options = new OnnxSessionOptions
        {
            IntraOpThreads = 2,
            InterOpThreads = 1,
            OptimizationLevel = OnnxOptimizationLevel.Extended,
            EnableCpuMemArena = false,
            OptimizedModelPath = optimized,
            ConfigEntries = new Dictionary<string, string> { ["session.disable_prepacking"] = "1" },
        };

        using var session = OnnxSession.Load(TestModels.NodeModel("test_qlinearmatmul_2D"), options);

        Assert.True(File.Exists(optimized));
        using var reloaded = OnnxSession.Load(optimized);
        Assert.Equal(session.Contract.Inputs.Count, reloaded.Contract.Inputs.Count);
    }

    [Fact]
    public void Invalid_options_are_refused_before_reaching_ort()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            OnnxSession.Load(TestModels.NodeModel("test_identity"), new OnnxSessionOptions { IntraOpThreads = -1 }));
        Assert.Contains("IntraOpThreads must be >= 0", e.Message);
    }

    [Fact]
    public void Missing_model_file_throws_with_ort_code_no_such_file_and_the_path()
    {
        var e = Assert.Throws<OnnxRuntimeException>(() => OnnxSession.Load("/nonexistent/model.onnx"));

        Assert.Equal(OrtErrorCode.NoSuchFile, e.ErrorCode);
        Assert.Contains("loading model '/nonexistent/model.onnx' failed", e.Message);
        Assert.Contains("ORT_NO_SUCHFILE", e.Message);
    }

    [Fact]
    public void Corrupt_model_bytes_throw_with_ort_code_invalid_protobuf()
    {
        byte[] model = File.ReadAllBytes(TestModels.NodeModel("test_identity"));
        byte[] corrupt = model[..(model.Length / 2)];

        var e = Assert.Throws<OnnxRuntimeException>(() => OnnxSession.Load(corrupt, sourceName: "truncated.onnx"));

        Assert.Equal(OrtErrorCode.InvalidProtobuf, e.ErrorCode);
        Assert.Contains("truncated.onnx", e.Message);
    }

    [Fact]
    public void Garbage_model_file_and_empty_bytes_are_rejected_with_typed_errors()
    {
        string path = TestModels.ToFile(Encoding.ASCII.GetBytes("definitely not protobuf \xff\xff\xff"));
        var fromFile = Assert.Throws<OnnxRuntimeException>(() => OnnxSession.Load(path));
        Assert.Equal(OrtErrorCode.InvalidProtobuf, fromFile.ErrorCode);

        var empty = Assert.Throws<OnnxRuntimeException>(() => OnnxSession.Load(ReadOnlySpan<byte>.Empty));
        Assert.Equal(OrtErrorCode.InvalidProtobuf, empty.ErrorCode);
    }

    [Fact]
    public void A_graph_ort_cannot_build_is_reported_with_its_error_code()
    {
        var b = new OnnxModelBuilder();
        b.AddOpset("", 13);
        b.AddInput("x", OnnxElementType.Float, [2]);
        b.AddOutput("y", OnnxElementType.Float, [2]);
        b.AddNode("NoSuchOperator", ["x"], ["y"]);

        var e = Assert.Throws<OnnxRuntimeException>(() => TestModels.Load(b.Build()));

        Assert.NotEqual(OrtErrorCode.Ok, e.ErrorCode);
        Assert.Contains("NoSuchOperator", e.OrtMessage);
    }

    [Fact]
    public void Disposing_twice_is_harmless_and_running_afterwards_throws_object_disposed()
    {
        var session = OnnxSession.Load(TestModels.NodeModel("test_identity"));
        session.Dispose();
        session.Dispose();

        Assert.Throws<ObjectDisposedException>(() =>
            session.Run([OnnxTensor.Create("x", [1, 1, 2, 2], new float[4])]));
    }
}
