namespace EdgeAgent.Onnx.Tests.Conformance;

/// <summary>
/// The quantization operator cases of the ONNX backend test suite (Debian libonnx-testdata) run through the
/// inference engine's steady-state path and through the general Run, and must reproduce the reference outputs.
/// </summary>
public sealed class QuantizationConformanceTests
{
    public static TheoryData<string> Cases() =>
    [
        "test_quantizelinear", "test_quantizelinear_axis",
        "test_dequantizelinear", "test_dequantizelinear_axis",
        "test_qlinearmatmul_2D", "test_qlinearmatmul_3D",
        "test_qlinearconv",
        "test_matmulinteger",
        "test_convinteger_with_padding", "test_convinteger_without_padding", "test_basic_convinteger",
        "test_dynamicquantizelinear", "test_dynamicquantizelinear_expanded",
        "test_dynamicquantizelinear_max_adjusted", "test_dynamicquantizelinear_max_adjusted_expanded",
        "test_dynamicquantizelinear_min_adjusted", "test_dynamicquantizelinear_min_adjusted_expanded",
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Engine_reproduces_the_reference_outputs(string test)
    {
        var (inputs, expected) = LoadCase(test);
        using var engine = InferenceEngine.Load(TestModels.NodeModel(test));
        using var lease = engine.Rent();

        foreach (var input in inputs) lease.SetInput(input);
        lease.Run();

        for (int i = 0; i < expected.Length; i++)
            AssertClose(expected[i], lease.GetOutput(i), test);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void General_run_reproduces_the_reference_outputs(string test)
    {
        var (inputs, expected) = LoadCase(test);
        using var session = OnnxSession.Load(TestModels.NodeModel(test));

        var outputs = session.Run(inputs);

        for (int i = 0; i < expected.Length; i++)
            AssertClose(expected[i], outputs[i], test);
    }

    /// <summary>Reads <c>test_data_set_0/input_N.pb</c> and <c>output_N.pb</c>, naming tensors after the model's inputs
    /// and outputs by position (the files' own names are optional in the test suite).</summary>
    private static (OnnxTensor[] Inputs, OnnxTensor[] Outputs) LoadCase(string test)
    {
        string dir = Path.Combine(TestModels.NodeTestData, test, "test_data_set_0");
        using var session = OnnxSession.Load(TestModels.NodeModel(test));
        var inputs = session.Contract.Inputs
            .Select((spec, i) => TensorProtoCodec.ReadFile(Path.Combine(dir, $"input_{i}.pb")).WithName(spec.Name)).ToArray();
        var outputs = session.Contract.Outputs
            .Select((spec, i) => TensorProtoCodec.ReadFile(Path.Combine(dir, $"output_{i}.pb")).WithName(spec.Name)).ToArray();
        Assert.NotEmpty(inputs);
        Assert.NotEmpty(outputs);
        return (inputs, outputs);
    }

    /// <summary>Integers exactly; floats with the ONNX backend-test tolerance (rtol 1e-3, atol 1e-7).</summary>
    private static void AssertClose(OnnxTensor expected, OnnxTensor actual, string test)
    {
        Assert.Equal(expected.ElementType, actual.ElementType);
        Assert.Equal(expected.Dims, actual.Dims);
        if (expected.Data is float[] e && actual.Data is float[] a)
        {
            for (int i = 0; i < e.Length; i++)
                Assert.True(Math.Abs(e[i] - a[i]) <= 1e-7 + 1e-3 * Math.Abs(e[i]), $"{test} {expected.Name}[{i}]: expected {e[i]}, got {a[i]}");
        }
        else
        {
            Assert.True(expected.ContentEquals(actual), $"{test} {expected.Name}: outputs differ");
        }
    }
}
