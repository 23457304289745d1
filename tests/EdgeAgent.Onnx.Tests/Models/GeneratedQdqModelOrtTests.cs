using EdgeAgent.OnnxFormat.Generators;
using Xunit.Abstractions;

namespace EdgeAgent.Onnx.Tests.Models;

/// <summary>
/// The INT8 QDQ models from OnnxFormat's generators, run in the real ONNX Runtime and compared with their C#
/// references on seeded inputs. Figures and how to reproduce them at scale: docs/bench/onnx-format.md
/// (set EDGEAGENT_LONG_TESTS=1 for 3000 inputs per model instead of 300).
/// </summary>
public abstract class GeneratedQdqModelOrtTests(ITestOutputHelper output)
{
    protected abstract GeneratedModel Generate(bool dynamicBatch = false, bool exposeActivations = false, bool floatBaseline = false);

    /// <summary>QuantizeLinear outputs the model has (exposed-activation variant).</summary>
    protected abstract int QuantizeNodes { get; }

    /// <summary>Op types ORT must have produced from the QDQ groups (integer kernels, not float emulation).</summary>
    protected abstract string[] FusedIntegerKernels { get; }

    private static int Inputs => Environment.GetEnvironmentVariable("EDGEAGENT_LONG_TESTS") == "1" ? 3000 : 300;

    [Fact]
    public void Ort_probabilities_match_the_reference_within_the_documented_tolerance()
    {
        var model = Generate();
        using var session = OnnxSession.Load(model.OnnxBytes, sourceName: "generated");
        var result = GeneratedModelComparison.Compare(model, session, Inputs);
        output.WriteLine(result.ToString());
        Assert.True(result.MaxAbsDifference <= model.ProbabilityTolerance, result.ToString());
        Assert.True(result.ArgMaxAgreement >= model.MinArgMaxAgreement, result.ToString());
        // Differences, when they occur, are rare rounding-tie flips: on average the outputs agree to float precision.
        Assert.True(result.MeanAbsDifference <= 1e-4, result.ToString());
    }

    [Theory]
    [InlineData(OnnxOptimizationLevel.DisableAll)]
    [InlineData(OnnxOptimizationLevel.Basic)]
    public void Ort_without_qdq_fusion_reproduces_the_reference_int8_activations(OnnxOptimizationLevel level)
    {
        // Unfused, ORT executes QuantizeLinear/DequantizeLinear node by node: the reference's semantics exactly.
        var model = Generate(exposeActivations: true);
        using var session = OnnxSession.Load(model.OnnxBytes, new OnnxSessionOptions { OptimizationLevel = level }, "generated-unfused");
        var results = QuantizedActivationComparison.Compare(model, session, Inputs / 6);
        foreach (var r in results) output.WriteLine(r.ToString());
        Assert.All(results, r => Assert.True(r.MaxSteps <= 1, r.ToString()));
        var summary = new QuantizedActivationComparison.Summary(results);
        Assert.True(summary.Mismatches <= summary.Values / 100_000, string.Join("; ", results));
    }

    [Fact]
    public void Ort_float_baseline_matches_the_float_reference()
    {
        var model = Generate(floatBaseline: true);
        using var session = OnnxSession.Load(model.OnnxBytes, sourceName: "generated-float");
        var result = GeneratedModelComparison.Compare(model, session, Inputs / 3);
        output.WriteLine(result.ToString());
        Assert.True(result.MaxAbsDifference <= model.ProbabilityTolerance, result.ToString());
        Assert.Equal(result.Inputs, result.ArgMaxAgreements);
    }

    [Fact]
    public void Ort_int8_activations_equal_the_reference_except_rare_one_step_ties()
    {
        var model = Generate(exposeActivations: true);
        using var session = OnnxSession.Load(model.OnnxBytes, sourceName: "generated-exposed");
        var results = QuantizedActivationComparison.Compare(model, session, Inputs / 6);
        foreach (var r in results) output.WriteLine(r.ToString());
        var summary = new QuantizedActivationComparison.Summary(results);
        Assert.Equal(QuantizeNodes, results.Count);
        Assert.True(summary.MaxSteps <= 1, string.Join("; ", results));
        Assert.True(summary.Mismatches <= summary.Values / 10_000, string.Join("; ", results));
    }

    [Fact]
    public void Ort_runs_the_qdq_groups_as_integer_kernels()
    {
        var model = Generate();
        string path = Path.Combine(Path.GetTempPath(), $"edgeagent-qdq-{Guid.NewGuid():N}.onnx");
        try
        {
            using (OnnxSession.Load(model.OnnxBytes, new OnnxSessionOptions { OptimizedModelPath = path }, "generated")) { }
            var info = ModelInfo.ParseFile(path);
            output.WriteLine(string.Join(", ", info.OpTypeHistogram.Select(kv => $"{kv.Key}×{kv.Value}")));
            foreach (string op in FusedIntegerKernels)
                Assert.True(info.OpTypeHistogram.ContainsKey(op), $"ORT did not produce {op}: {string.Join(", ", info.OpTypeHistogram.Keys)}");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Dynamic_batch_model_gives_each_item_the_result_of_a_single_run()
    {
        var model = Generate(dynamicBatch: true);
        using var session = OnnxSession.Load(model.OnnxBytes, sourceName: "generated-batch");
        const int batch = 8;
        var input = new List<float>();
        for (ulong seed = 100; seed < 100 + batch; seed++) input.AddRange(model.Reference.SampleInput(seed));
        long[] shape = [batch, .. model.InputShape[1..]];
        var outputs = session.Run([OnnxTensor.Create(model.InputName, shape, input.ToArray())]);
        var actual = Assert.Single(outputs);
        Assert.Equal(new long[] { batch, model.Labels.Count }, actual.Dims);
        float[] expected = model.Reference.Run(input.ToArray());
        var got = actual.GetData<float>();
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - got[i]) <= model.ProbabilityTolerance, $"item {i / model.Labels.Count}: {got[i]} vs {expected[i]}");
    }

    [Fact]
    public void Ort_reads_the_generated_metadata()
    {
        var model = Generate();
        using var session = OnnxSession.Load(model.OnnxBytes, sourceName: "generated");
        Assert.Equal("edgeagent-modelgen", session.Metadata.ProducerName);
        Assert.Equal(1, session.Metadata.Version);
        Assert.Equal(string.Join(',', model.Labels), session.Metadata.CustomMetadata["labels"]);
        Assert.Equal(model.InputName, Assert.Single(session.Contract.Inputs).Name);
        Assert.Equal(model.InputShape, session.Contract.Inputs[0].Shape);
    }
}

public sealed class QdqMlpOrtTests(ITestOutputHelper output) : GeneratedQdqModelOrtTests(output)
{
    protected override GeneratedModel Generate(bool dynamicBatch = false, bool exposeActivations = false, bool floatBaseline = false) =>
        QdqMlp.Generate(new QdqMlpOptions { DynamicBatch = dynamicBatch, ExposeQuantizedActivations = exposeActivations, FloatBaseline = floatBaseline });

    protected override int QuantizeNodes => 3;

    protected override string[] FusedIntegerKernels => ["com.microsoft:QGemm"];
}

public sealed class QdqCnn1dOrtTests(ITestOutputHelper output) : GeneratedQdqModelOrtTests(output)
{
    protected override GeneratedModel Generate(bool dynamicBatch = false, bool exposeActivations = false, bool floatBaseline = false) =>
        QdqCnn1d.Generate(new QdqCnn1dOptions { DynamicBatch = dynamicBatch, ExposeQuantizedActivations = exposeActivations, FloatBaseline = floatBaseline });

    protected override int QuantizeNodes => 4;

    protected override string[] FusedIntegerKernels => ["com.microsoft:QLinearConv"];

    [Fact]
    public void Ort_labels_most_synthetic_windows_with_their_regime()
    {
        var model = Generate();
        using var session = OnnxSession.Load(model.OnnxBytes, sourceName: "qdq-cnn1d");
        int correct = 0;
        const int n = 300;
        for (ulong seed = 20_000; seed < 20_000 + n; seed++)
        {
            var (window, label) = QdqCnn1d.SyntheticWindow(seed);
            var p = session.Run([OnnxTensor.Create(model.InputName, model.InputShape, window)])[0].GetData<float>();
            if (QuantMath.ArgMax(p) == label) correct++;
        }
        Assert.True(correct >= n * 0.7, $"{correct} of {n} windows labelled with their regime");
    }
}
