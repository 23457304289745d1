using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.OnnxFormat;
using EdgeAgent.OnnxFormat.Generators;

namespace EdgeAgent.Updates.Tests.Infrastructure;

/// <summary>
/// Real models for update tests: two INT8 QDQ MLPs (same contract, different weights) with golden
/// vectors from the generators' exact C# reference, and a "collapsed" model built with the ONNX
/// model builder whose output is one class whatever the input.
/// </summary>
public static class TestModels
{
    public const string Family = "kws";
    public const string HardwareId = "edge-x64-test";

    private static readonly Lazy<GeneratedModel> MlpV1 = new(() => QdqMlp.Generate(new QdqMlpOptions { Seed = 42 }));
    private static readonly Lazy<GeneratedModel> MlpV2 = new(() => QdqMlp.Generate(new QdqMlpOptions { Seed = 7, ModelVersion = 2 }));

    public static GeneratedModel V1 => MlpV1.Value;
    public static GeneratedModel V2 => MlpV2.Value;

    /// <summary>A live-looking input window (in distribution for the MLPs).</summary>
    public static float[] Window(ulong seed) => V1.Reference.SampleInput(seed);

    /// <summary>A manifest for <paramref name="model"/> with 8 reference golden vectors.</summary>
    public static BundleManifest Manifest(GeneratedModel model, string version, long counter, string? hardwareId = null, double latencyBudgetMs = 250)
    {
        var m = new BundleManifest
        {
            Name = Family,
            Version = version,
            ReleaseCounter = counter,
            HardwareIds = [hardwareId ?? HardwareId, "edge-arm64-test"],
            Inputs = [new TensorDescriptor { Name = model.InputName, ElementType = "float32", Shape = model.InputShape.ToList() }],
            Outputs = [new TensorDescriptor { Name = model.OutputName, ElementType = "float32", Shape = model.OutputShape.ToList() }],
            Labels = model.Labels.ToList(),
            Windowing = new WindowingSpec { Length = 64, Stride = 32, Channels = 1, SampleRateHz = 100 },
            ConfidenceThreshold = 0.4,
            LatencyBudgetMs = latencyBudgetMs,
            GoldenVectors = new GoldenVectorSet { Tolerance = model.ProbabilityTolerance },
        };
        for (ulong i = 0; i < 8; i++)
        {
            var input = model.Reference.SampleInput(1000 + i);
            m.GoldenVectors.Vectors.Add(new EdgeAgent.Bundles.Manifest.GoldenVector { Input = input, Expected = model.Reference.Run(input) });
        }
        return m;
    }

    public static byte[] Bundle(GeneratedModel model, string version, long counter, Action<BundleManifest>? edit = null)
    {
        var m = Manifest(model, version, counter);
        edit?.Invoke(m);
        return BundleBuilder.Build(m, model.OnnxBytes);
    }

    /// <summary>
    /// input f32[1,64] → MatMul(zeros[64,4]) → Add([8,0,0,0]) → Softmax: class 0 with p ≈ 0.999
    /// for every input. Same contract as the MLPs, passes its own golden vectors: a release that is
    /// "valid" but useless on live data.
    /// </summary>
    public static byte[] CollapsedModel()
    {
        var b = new OnnxModelBuilder { GraphName = "collapsed", ProducerVersion = "1", ModelVersion = 3 };
        b.AddOpset("", 13);
        b.AddInput("input", OnnxElementType.Float, [1, 64]);
        b.AddOutput("probabilities", OnnxElementType.Float, [1, 4]);
        b.AddInitializer(OnnxTensor.Create("w", [64, 4], new float[256]));
        b.AddInitializer(OnnxTensor.Create("b", [4], [8f, 0f, 0f, 0f]));
        b.AddNode("MatMul", ["input", "w"], ["logits0"], "matmul");
        b.AddNode("Add", ["logits0", "b"], ["logits"], "add");
        b.AddNode("Softmax", ["logits"], ["probabilities"], "softmax").WithInt("axis", -1);
        return b.Build();
    }

    public static byte[] CollapsedBundle(string version, long counter)
    {
        var m = Manifest(V1, version, counter);
        var e = MathF.Exp(8f);
        var p0 = e / (e + 3);
        var rest = 1 / (e + 3);
        foreach (var v in m.GoldenVectors.Vectors) v.Expected = [p0, rest, rest, rest];
        m.GoldenVectors.Tolerance = 1e-4f;
        return BundleBuilder.Build(m, CollapsedModel());
    }
}
