using EdgeAgent.Bundles.Manifest;
using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat;

namespace EdgeAgent.Updates.Packaging;

/// <summary>
/// Fills the model-derived parts of a manifest from the model itself, as <c>edgeagent bundle build</c>
/// does: the contract as ONNX Runtime reports it and golden vectors whose expected outputs are
/// what ONNX Runtime computes here for seeded inputs. (A hub with a reference implementation may
/// supply its own vectors instead.) Thread safe.
/// </summary>
public static class BundleDraft
{
    /// <summary>Sets <see cref="BundleManifest.Inputs"/>/<see cref="BundleManifest.Outputs"/> and <paramref name="count"/> golden vectors.</summary>
    /// <exception cref="ModelContractException">The model does not have one static float32 input and a float32 first output.</exception>
    public static void Fill(BundleManifest manifest, byte[] model, int count, float tolerance, ulong seed, string source)
    {
        var session = OnnxSession.Load(model, OnnxSessionOptions.Default, source);
        InferenceEngine engine;
        try
        {
            if (session.Contract.Inputs.Count != 1)
                throw new ModelContractException($"{source}: golden vectors need exactly one input, the model has {session.Contract.Inputs.Count}");
            manifest.Inputs = session.Contract.Inputs.Select(Describe).ToList();
            manifest.Outputs = session.Contract.Outputs.Select(Describe).ToList();
            engine = InferenceEngine.Create(session);
        }
        catch
        {
            session.Dispose();
            throw;
        }
        using var _ = engine;
        var inLen = (int)(engine.Inputs[0].ElementCount ?? throw new ModelContractException($"{source}: input shape {engine.Inputs[0]} is not static"));
        var outLen = (int)(engine.Outputs[0].ElementCount ?? 0);
        var rng = new Random(unchecked((int)seed));
        manifest.GoldenVectors = new GoldenVectorSet { Tolerance = tolerance };
        for (var i = 0; i < count; i++)
        {
            var input = new float[inLen];
            for (var k = 0; k < inLen; k++)
            {
                // Standard normal (Box–Muller): the scale the demo models were calibrated on.
                var u1 = 1.0 - rng.NextDouble();
                input[k] = (float)(Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * rng.NextDouble()));
            }
            var output = new float[outLen];
            engine.Run<float, float>(input, output);
            manifest.GoldenVectors.Vectors.Add(new GoldenVector { Input = input, Expected = output });
        }
    }

    public static TensorDescriptor Describe(TensorSpec spec) => new()
    {
        Name = spec.Name,
        ElementType = ElementTypes.Name(spec.ElementType),
        // Dynamic dimensions are bound to 1 (one window per call), as the engine binds them by default.
        Shape = spec.Shape.Select(d => d < 0 ? 1 : d).ToList(),
    };
}
