using EdgeAgent.OnnxFormat.Generators;
using Xunit.Abstractions;

namespace EdgeAgent.Onnx.Tests.Models;

public sealed class QdqMlpOrtTests(ITestOutputHelper output)
{
    private static readonly GeneratedModel Mlp = QdqMlp.Generate();

    [Fact]
    public void Ort_matches_the_reference_within_the_documented_tolerance()
    {
        using var session = OnnxSession.Load(Mlp.OnnxBytes, sourceName: "qdq-mlp");
        var result = GeneratedModelComparison.Compare(Mlp, session, inputs: int.Parse(Environment.GetEnvironmentVariable("N") ?? "500"));
        output.WriteLine(result.ToString());
        Assert.True(result.MaxAbsDifference <= Mlp.ProbabilityTolerance, result.ToString());
        Assert.True(result.ArgMaxAgreement >= Mlp.MinArgMaxAgreement, result.ToString());
    }

    [Fact]
    public void Ort_int8_activations_are_within_one_quantization_step_of_the_reference()
    {
        var exposed = QdqMlp.Generate(new QdqMlpOptions { ExposeQuantizedActivations = true });
        using var session = OnnxSession.Load(exposed.OnnxBytes, sourceName: "qdq-mlp-exposed");
        var results = QuantizedActivationComparison.Compare(exposed, session, inputs: 100);
        foreach (var r in results) output.WriteLine(r.ToString());
        Assert.Equal(3, results.Count);
        Assert.All(results, r => Assert.True(r.MaxSteps <= 1, r.ToString()));
    }

    [Fact]
    public void Ort_fuses_the_qdq_groups_into_integer_kernels()
    {
        string path = Path.Combine(Path.GetTempPath(), $"edgeagent-qdq-mlp-{Guid.NewGuid():N}.onnx");
        try
        {
            using (OnnxSession.Load(Mlp.OnnxBytes, new OnnxSessionOptions { OptimizedModelPath = path }, "qdq-mlp")) { }
            var info = ModelInfo.ParseFile(path);
            output.WriteLine(string.Join(", ", info.OpTypeHistogram.Select(kv => $"{kv.Key}×{kv.Value}")));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
