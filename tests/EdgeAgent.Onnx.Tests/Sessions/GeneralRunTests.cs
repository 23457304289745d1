using EdgeAgent.OnnxFormat.Generators;

namespace EdgeAgent.Onnx.Tests.Sessions;

public sealed class GeneralRunTests
{
    public static TheoryData<OnnxElementType> AllElementTypes() =>
    [
        OnnxElementType.Float, OnnxElementType.Double, OnnxElementType.Int8, OnnxElementType.UInt8,
        OnnxElementType.Int16, OnnxElementType.UInt16, OnnxElementType.Int32, OnnxElementType.UInt32,
        OnnxElementType.Int64, OnnxElementType.UInt64, OnnxElementType.Bool, OnnxElementType.Float16,
        OnnxElementType.String,
    ];

    [Theory]
    [MemberData(nameof(AllElementTypes))]
    public void Every_supported_element_type_round_trips_through_identity(OnnxElementType type)
    {
        using var session = TestModels.Load(TestModels.Identity(type, 2, 3));
        var input = Sample(type, SimpleModels.InputName, [2, 3]);

        var output = Assert.Single(session.Run([input]));

        Assert.Equal(SimpleModels.OutputName, output.Name);
        Assert.Equal(type, output.ElementType);
        Assert.True(input.ContentEquals(output), $"{type}: {output}");
    }

    [Fact]
    public void Dynamic_dimensions_accept_any_size_per_call()
    {
        using var session = TestModels.Load(TestModels.Identity(OnnxElementType.Float, "batch", 3));

        foreach (int batch in new[] { 1, 5, 0 })
        {
            var input = OnnxTensor.Create("input", [batch, 3], Enumerable.Range(0, batch * 3).Select(i => (float)i).ToArray());
            var output = session.Run([input])[0];
            Assert.Equal(new long[] { batch, 3 }, output.Dims);
            Assert.True(input.ContentEquals(output));
        }
    }

    [Fact]
    public void Cast_changes_the_element_type_with_onnx_semantics()
    {
        using var toInt8 = TestModels.Load(TestModels.Cast(OnnxElementType.Float, OnnxElementType.Int8, 4));
        var result = toInt8.Run([OnnxTensor.Create("input", [4], new[] { 1.9f, -1.9f, 0f, 100f })])[0];
        Assert.Equal(new sbyte[] { 1, -1, 0, 100 }, result.GetData<sbyte>());

        using var toBool = TestModels.Load(TestModels.Cast(OnnxElementType.Int32, OnnxElementType.Bool, 3));
        Assert.Equal(new[] { false, true, true },
            toBool.Run([OnnxTensor.Create("input", [3], new[] { 0, 7, -1 })])[0].GetData<bool>());

        using var toHalf = TestModels.Load(TestModels.Cast(OnnxElementType.Double, OnnxElementType.Float16, 2));
        Assert.Equal(new[] { (Half)0.5, (Half)(-2) },
            toHalf.Run([OnnxTensor.Create("input", [2], new[] { 0.5, -2.0 })])[0].GetData<Half>());
    }

    [Fact]
    public void String_tensors_cross_in_both_directions_with_utf8()
    {
        using var toString = OnnxSession.Load(TestModels.NodeModel("test_cast_FLOAT_to_STRING"));
        var spec = toString.Contract.Inputs[0];
        var x = OnnxTensor.Create(spec.Name, spec.Shape, Enumerable.Range(0, (int)spec.ElementCount!).Select(i => i + 0.5f).ToArray());
        var strings = toString.Run([x])[0];
        Assert.Equal(OnnxElementType.String, strings.ElementType);
        Assert.Equal("0.5", strings.GetData<string>()[0]);

        using var identity = TestModels.Load(TestModels.Identity(OnnxElementType.String, 3));
        var text = OnnxTensor.Create("input", [3], new[] { "Grüße", "", "温度" });
        Assert.True(text.ContentEquals(identity.Run([text])[0]));
    }

    [Fact]
    public void Outputs_can_be_selected_by_name()
    {
        using var session = OnnxSession.Load(TestModels.NodeModel("test_dynamicquantizelinear"));
        var x = TensorProtoCodec.ReadFile(Path.Combine(TestModels.NodeTestData, "test_dynamicquantizelinear/test_data_set_0/input_0.pb"));
        var names = session.Contract.Outputs.Select(o => o.Name).ToArray();

        var outputs = session.Run([x.WithName(session.Contract.Inputs[0].Name)], [names[2], names[0]]);

        Assert.Equal(new[] { names[2], names[0] }, outputs.Select(o => o.Name));
    }

    [Fact]
    public void Unknown_input_name_lists_the_model_inputs()
    {
        using var session = OnnxSession.Load(TestModels.NodeModel("test_identity"));

        var e = Assert.Throws<ModelContractException>(() => session.Run([OnnxTensor.Create("q", [1, 1, 2, 2], new float[4])]));

        Assert.Equal("the model has no input 'q'; its inputs are: 'x' [1,1,2,2] float32", e.Message);
    }

    [Fact]
    public void Wrong_shape_is_reported_with_expected_and_given_shapes()
    {
        using var session = TestModels.Load(TestModels.Identity(OnnxElementType.Float, 1, 64));

        var e = Assert.Throws<ModelContractException>(() => session.Run([OnnxTensor.Create("input", [1, 63], new float[63])]));

        Assert.Equal("model input 'input' expects [1,64] float32, got [1,63] float32", e.Message);
    }

    [Fact]
    public void Wrong_element_type_and_wrong_rank_are_reported()
    {
        using var session = TestModels.Load(TestModels.Identity(OnnxElementType.Float, "N", 4));

        var type = Assert.Throws<ModelContractException>(() => session.Run([OnnxTensor.Create("input", [1, 4], new double[4])]));
        Assert.Equal("model input 'input' expects [N,4] float32, got [1,4] float64", type.Message);

        var rank = Assert.Throws<ModelContractException>(() => session.Run([OnnxTensor.Create("input", [4], new float[4])]));
        Assert.Equal("model input 'input' expects [N,4] float32, got [4] float32", rank.Message);
    }

    [Fact]
    public void Missing_and_duplicate_inputs_are_reported()
    {
        using var session = OnnxSession.Load(TestModels.NodeModel("test_quantizelinear"));
        var x = session.Contract.Inputs[0];

        var missing = Assert.Throws<ModelContractException>(() =>
            session.Run([OnnxTensor.Zeros(x.Name, x.ElementType, x.Shape)]));
        Assert.Contains($"model input '{session.Contract.Inputs[1].Name}'", missing.Message);
        Assert.EndsWith("was not given", missing.Message);

        var twice = Assert.Throws<ModelContractException>(() =>
            session.Run([OnnxTensor.Zeros(x.Name, x.ElementType, x.Shape), OnnxTensor.Zeros(x.Name, x.ElementType, x.Shape)]));
        Assert.Equal($"model input '{x.Name}' was given twice", twice.Message);
    }

    [Fact]
    public void Unknown_output_name_lists_the_model_outputs()
    {
        using var session = OnnxSession.Load(TestModels.NodeModel("test_identity"));

        var e = Assert.Throws<ModelContractException>(() =>
            session.Run([OnnxTensor.Create("x", [1, 1, 2, 2], new float[4])], ["z"]));

        Assert.Equal("the model has no output 'z'; its outputs are: 'y' [1,1,2,2] float32", e.Message);
    }

    [Fact]
    public void NaN_and_infinity_inputs_pass_through_the_model_unchanged()
    {
        using var session = TestModels.Load(TestModels.Identity(OnnxElementType.Float, 4));
        var input = OnnxTensor.Create("input", [4], new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f });

        var output = session.Run([input])[0];

        Assert.True(input.ContentEquals(output));
    }

    [Fact]
    public void Non_tensor_inputs_are_refused_with_their_kind()
    {
        using var session = OnnxSession.Load(TestModels.NodeModel("test_identity_sequence"));
        Assert.Equal(OnnxValueKind.Sequence, session.Contract.Inputs[0].Kind);

        var e = Assert.Throws<ModelContractException>(() =>
            session.Run([OnnxTensor.Create(session.Contract.Inputs[0].Name, [1], new float[1])]));

        Assert.Contains("is a sequence", e.Message);
    }

    [Fact]
    public void General_run_may_be_called_from_several_threads_at_once()
    {
        using var session = TestModels.Load(TestModels.Unary("Neg", "N", 3));
        int wrong = 0;

        Parallel.For(0, 400, i =>
        {
            var y = session.Run([OnnxTensor.Create("input", [1 + i % 3, 3], Enumerable.Repeat((float)i, (1 + i % 3) * 3).ToArray())])[0];
            if (y.Dims[0] != 1 + i % 3 || y.GetData<float>().Any(v => v != -i)) Interlocked.Increment(ref wrong);
        });

        Assert.Equal(0, wrong);
    }

    [Fact]
    public void Cancelling_a_run_terminates_it_inside_ort()
    {
        using var session = TestModels.Load(TestModels.SlowMatMulChain(layers: 2000));
        var x = OnnxTensor.Create("x", [512, 512], new float[512 * 512]);
        using var cts = new CancellationTokenSource();

        var run = Task.Run(() => session.Run([x], cancellationToken: cts.Token));
        Thread.Sleep(200);
        cts.Cancel();

        var e = Assert.Throws<OperationCanceledException>(() => run.GetAwaiter().GetResult());
        // Either ORT saw the terminate flag mid-run (inner ORT error), or cancellation came before the run started.
        if (e.InnerException is OnnxRuntimeException ort) Assert.Contains("terminate", ort.OrtMessage, StringComparison.OrdinalIgnoreCase);
    }

    internal static OnnxTensor Sample(OnnxElementType type, string name, long[] dims)
    {
        int n = (int)OnnxTensor.ElementCountOf(dims)!;
        Array data = type switch
        {
            OnnxElementType.Float => Enumerable.Range(0, n).Select(i => i * 1.5f - 2).ToArray(),
            OnnxElementType.Double => Enumerable.Range(0, n).Select(i => i * 1e10 - 1e-3).ToArray(),
            OnnxElementType.Int8 => Enumerable.Range(0, n).Select(i => (sbyte)(i % 2 == 0 ? -128 + i : 127 - i)).ToArray(),
            OnnxElementType.UInt8 => Enumerable.Range(0, n).Select(i => (byte)(255 - i)).ToArray(),
            OnnxElementType.Int16 => Enumerable.Range(0, n).Select(i => (short)(i % 2 == 0 ? short.MinValue + i : short.MaxValue - i)).ToArray(),
            OnnxElementType.UInt16 => Enumerable.Range(0, n).Select(i => (ushort)(ushort.MaxValue - i)).ToArray(),
            OnnxElementType.Int32 => Enumerable.Range(0, n).Select(i => i % 2 == 0 ? int.MinValue + i : int.MaxValue - i).ToArray(),
            OnnxElementType.UInt32 => Enumerable.Range(0, n).Select(i => uint.MaxValue - (uint)i).ToArray(),
            OnnxElementType.Int64 => Enumerable.Range(0, n).Select(i => i % 2 == 0 ? long.MinValue + i : long.MaxValue - i).ToArray(),
            OnnxElementType.UInt64 => Enumerable.Range(0, n).Select(i => ulong.MaxValue - (ulong)i).ToArray(),
            OnnxElementType.Bool => Enumerable.Range(0, n).Select(i => i % 3 == 0).ToArray(),
            OnnxElementType.Float16 => Enumerable.Range(0, n).Select(i => (Half)(i * 0.25f - 1)).ToArray(),
            OnnxElementType.String => Enumerable.Range(0, n).Select(i => $"s{i}-ü").ToArray(),
            _ => throw new ArgumentOutOfRangeException(nameof(type)),
        };
        return OnnxTensor.Create(name, type, dims, data);
    }
}
