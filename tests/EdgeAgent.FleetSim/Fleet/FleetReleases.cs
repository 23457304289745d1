using EdgeAgent.Bundles.Manifest;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Updates.Packaging;

namespace EdgeAgent.FleetSim.Fleet;

/// <summary>One release the simulation registers with the hub: the model file and its manifest (the hub builds and signs the bundle).</summary>
public sealed record FleetRelease(string Version, long Counter, byte[] Onnx, byte[] ManifestJson);

/// <summary>
/// The releases of the simulated fleet's model family <see cref="Family"/>, INT8 QDQ 1-D CNNs over the synthetic
/// accelerometer (3 channels, 128-sample windows, hop 64): a small first release every device installs from nothing, and
/// a second one sized to the rollout bundle the issue asks for (~1 MB), same contract, so devices hot-swap it.
/// </summary>
/// <remarks>
/// The size comes from the second convolution's int8 weights (<c>Conv2Filters × Conv1Filters × kernel</c> bytes), which
/// do not compress: a real model of that size, not padding. Its cost per window measured 0.17–0.18 ms in ONNX Runtime
/// here (the small one 0.01 ms), so a thousand devices running it stay cheap. Stateless, thread-safe.
/// </remarks>
public static class FleetReleases
{
    public const string Family = "fleet-har";
    private const int Conv1Filters = 128, KernelSize = 5;

    /// <summary>Release 1.0.0, fitted to windows sampled at <paramref name="sampleRateHz"/> (the devices' sensor rate).</summary>
    public static FleetRelease First(double sampleRateHz) =>
        Build("1.0.0", 1, new QdqCnn1dOptions { Seed = 7, ModelVersion = 1, SampleRateHz = sampleRateHz });

    /// <summary>Release 2.0.0 with about <paramref name="modelBytes"/> bytes of model, fitted at <paramref name="sampleRateHz"/>.</summary>
    /// <remarks>Both releases are fitted at the rate the devices sample: the devices' health window rolls back a release whose
    /// outputs collapse onto one class, and a model fitted at 50 Hz sees 10 Hz windows as one regime.</remarks>
    public static FleetRelease Sized(long modelBytes, double sampleRateHz)
    {
        int conv2 = (int)Math.Clamp(modelBytes / (Conv1Filters * KernelSize), 32, 100_000);
        return Build("2.0.0", 2, new QdqCnn1dOptions
        {
            Seed = 11, ModelVersion = 2, Conv1Filters = Conv1Filters, Conv2Filters = conv2, KernelSize = KernelSize, SampleRateHz = sampleRateHz,
            CalibrationSamples = 32, // the C# float reference over 65 M multiply-adds per window: keep generation to seconds
        });
    }

    private static FleetRelease Build(string version, long counter, QdqCnn1dOptions options)
    {
        byte[] onnx = QdqCnn1d.Generate(options).OnnxBytes;
        var manifest = new BundleManifest
        {
            Name = Family,
            Version = version,
            ReleaseCounter = counter,
            HardwareIds = ["linux-x64", "linux-arm64"],
            Labels = [.. options.Labels],
            Windowing = new WindowingSpec { Length = options.WindowLength, Stride = options.HopLength, Channels = options.ChannelNames.Count, SampleRateHz = options.SampleRateHz },
            ConfidenceThreshold = 0.6,
            // Each device checks the release's p99 latency over 200 runs before activating it. A real device has its
            // own CPU; here up to 1,000 devices run that check on two shared cores at once (measured: p99 37 ms for the
            // 1 MB model with 20 devices, 0.18 ms alone), so the budget is set far above the model's own cost.
            LatencyBudgetMs = 5000,
        };
        BundleDraft.Fill(manifest, onnx, count: 8, tolerance: 0.02f, seed: 1, source: $"{Family}@{version}");
        return new FleetRelease(version, counter, onnx, BundleManifestJson.Serialize(manifest));
    }
}
