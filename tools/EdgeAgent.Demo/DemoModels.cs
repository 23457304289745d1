using System.Globalization;
using System.Text;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.OnnxFormat;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Sensors.Synthetic;
using EdgeAgent.Updates.Packaging;

namespace EdgeAgent.Demo;

/// <summary>One release the demo registers: the model file and its manifest (the hub builds the bundle).</summary>
internal sealed record DemoRelease(string Version, long Counter, byte[] Onnx, byte[] ManifestJson, string Story);

/// <summary>
/// The demo's model family <c>activity</c>: INT8 QDQ 1-D CNNs over 3-axis accelerometer windows
/// (128 samples at 50 Hz), as the synthetic sensor produces them. v1 and v2 are working models
/// (different seeds); v3 passes every check the hub and the device can make before activation —
/// contract, golden vectors, latency — but answers "idle" with 99.9 % confidence whatever it sees,
/// which only live data reveals (the device's health window rolls it back).
/// </summary>
internal static class DemoModels
{
    public const string Family = "activity";

    /// <summary>
    /// The synthetic sensor's activity schedule on every demo device and in the training data (short
    /// cycles, so a minute of live data already has the reference's mix and only injected drift shows).
    /// </summary>
    public const string Schedule = "idle:2,walk:2,run:2,vibration-fault:2";
    public static readonly string[] HardwareIds = ["linux-x64", "linux-arm64"];

    public static DemoRelease V1() => Working("1.0.0", 1, seed: 7, "first release");
    public static DemoRelease V2() => Working("1.1.0", 2, seed: 11, "retrained release, canary first");
    public static DemoRelease V3() => Release("1.2.0", 3, Collapsed(), "bad release: constant output");

    /// <summary>The cloud tier's model for the family: the float (unquantized) CNN with twice the filters.</summary>
    public static DemoRelease CloudModel() => Release("1.0.0", 1,
        QdqCnn1d.Generate(new QdqCnn1dOptions { Seed = 7, FloatBaseline = true, Conv1Filters = 32, Conv2Filters = 64 }).OnnxBytes,
        "cloud model", name: Family + "-cloud");

    private static DemoRelease Working(string version, long counter, ulong seed, string story) =>
        Release(version, counter, QdqCnn1d.Generate(new QdqCnn1dOptions { Seed = seed, ModelVersion = counter }).OnnxBytes, story);

    private static DemoRelease Release(string version, long counter, byte[] onnx, string story, string name = Family)
    {
        var manifest = new BundleManifest
        {
            Name = name,
            Version = version,
            ReleaseCounter = counter,
            HardwareIds = [.. HardwareIds],
            Labels = ["idle", "walk", "run", "vibration_fault"],
            Windowing = new WindowingSpec { Length = 128, Stride = 64, Channels = 3, SampleRateHz = 50 },
            ConfidenceThreshold = 0.6,
            LatencyBudgetMs = 25,
        };
        BundleDraft.Fill(manifest, onnx, count: 8, tolerance: 0.02f, seed: 1, source: $"{Family}@{version}");
        return new DemoRelease(version, counter, onnx, BundleManifestJson.Serialize(manifest), story);
    }

    /// <summary>
    /// f32[1,3,128] → ReduceMean over time → MatMul(zeros[3,4]) → Add([8,0,0,0]) → Softmax: class 0 with
    /// p ≈ 0.999 for every input. Same contract as the CNNs.
    /// </summary>
    private static byte[] Collapsed()
    {
        var b = new OnnxModelBuilder { GraphName = "activity-collapsed", ProducerVersion = "1", ModelVersion = 3 };
        b.AddOpset("", 13);
        b.AddInput("window", OnnxElementType.Float, [1, 3, 128]);
        b.AddOutput("probabilities", OnnxElementType.Float, [1, 4]);
        b.AddInitializer(OnnxTensor.Create("w", [3, 4], new float[12]));
        b.AddInitializer(OnnxTensor.Create("b", [4], [8f, 0f, 0f, 0f]));
        b.AddNode("ReduceMean", ["window"], ["pooled"], "pool").WithInts("axes", [2]).WithInt("keepdims", 0);
        b.AddNode("MatMul", ["pooled", "w"], ["logits0"], "matmul");
        b.AddNode("Add", ["logits0", "b"], ["logits"], "add");
        b.AddNode("Softmax", ["logits"], ["probabilities"], "softmax").WithInt("axis", -1);
        return b.Build();
    }

    /// <summary>
    /// Training data for the drift reference: what the synthetic sensor produces without drift, as a CSV
    /// with the channel names the agent sketches (ax, ay, az).
    /// </summary>
    public static byte[] ReferenceCsv(int rows = 20_000)
    {
        var sensor = new SyntheticAccelerometer(new SyntheticSettings
        {
            Seed = 1000, RateHz = 50, RealTime = false,
            Schedule = [new(SyntheticActivity.Idle, 2), new(SyntheticActivity.Walk, 2), new(SyntheticActivity.Run, 2), new(SyntheticActivity.VibrationFault, 2)],
        });
        var sample = new float[3];
        var csv = new StringBuilder(rows * 24).Append("ax,ay,az\n");
        for (int i = 0; i < rows; i++)
        {
            sensor.Next(sample);
            if (!float.IsFinite(sample[0]) || !float.IsFinite(sample[1]) || !float.IsFinite(sample[2])) continue;
            csv.Append(sample[0].ToString("R", CultureInfo.InvariantCulture)).Append(',')
               .Append(sample[1].ToString("R", CultureInfo.InvariantCulture)).Append(',')
               .Append(sample[2].ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }
        return Encoding.UTF8.GetBytes(csv.ToString());
    }
}
