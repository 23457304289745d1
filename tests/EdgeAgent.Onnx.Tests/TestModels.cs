using EdgeAgent.OnnxFormat.Generators;

namespace EdgeAgent.Onnx.Tests;

/// <summary>Real ONNX models for the tests: libonnx-testdata files and models built with OnnxFormat's builder.</summary>
internal static class TestModels
{
    public const string NodeTestData = "/usr/share/libonnx-testdata/data/node";

    public static string NodeModel(string test) => Path.Combine(NodeTestData, test, "model.onnx");

    public static byte[] Identity(OnnxElementType type, params OnnxDim[] shape) => SimpleModels.Identity(type, shape);

    public static byte[] Cast(OnnxElementType from, OnnxElementType to, params OnnxDim[] shape) => SimpleModels.Cast(from, to, shape);

    /// <summary>A single-node float model: output = op(input) for a unary op such as Neg, Abs, Relu.</summary>
    public static byte[] Unary(string op, params OnnxDim[] shape)
    {
        var b = new OnnxModelBuilder { GraphName = op.ToLowerInvariant() };
        b.AddOpset("", 13);
        b.AddInput("input", OnnxElementType.Float, shape);
        b.AddOutput("output", OnnxElementType.Float, shape);
        b.AddNode(op, ["input"], ["output"]);
        return b.Build();
    }

    /// <summary>
    /// A model that takes long to run: <paramref name="layers"/> chained 512x512 MatMuls (≈0.27 GFLOP each),
    /// so a cancellation lands while ORT is still executing nodes.
    /// </summary>
    public static byte[] SlowMatMulChain(int layers)
    {
        const int n = 512;
        var b = new OnnxModelBuilder { GraphName = "slow" };
        b.AddOpset("", 13);
        b.AddInput("x", OnnxElementType.Float, [n, n]);
        b.AddOutput("y", OnnxElementType.Float, [n, n]);
        var w = new float[n * n];
        for (int i = 0; i < n; i++) w[i * n + i] = 1f; // identity weights keep values finite
        b.AddInitializer(OnnxTensor.Create("w", [n, n], w));
        string previous = "x";
        for (int i = 0; i < layers; i++)
        {
            string next = i == layers - 1 ? "y" : $"h{i}";
            b.AddNode("MatMul", [previous, "w"], [next]);
            previous = next;
        }
        return b.Build();
    }

    /// <summary>Writes model bytes to a unique temporary file and returns its path.</summary>
    public static string ToFile(byte[] model, string name = "model")
    {
        string dir = Path.Combine(Path.GetTempPath(), "edgeagent-onnx-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, name + ".onnx");
        File.WriteAllBytes(path, model);
        return path;
    }

    public static OnnxSession Load(byte[] model, OnnxSessionOptions? options = null) => OnnxSession.Load(model, options);
}
