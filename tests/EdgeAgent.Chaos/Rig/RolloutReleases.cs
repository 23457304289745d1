using EdgeAgent.Bundles.Manifest;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Updates.Packaging;

namespace EdgeAgent.Chaos.Rig;

/// <summary>One release the rollout rig registers with the hub: the model file and its manifest (the hub builds and signs the bundle).</summary>
public sealed record RolloutRelease(string Version, long Counter, byte[] Onnx, byte[] ManifestJson);

/// <summary>
/// The rollout scenarios' model family <see cref="Family"/>: INT8 QDQ 1-D CNNs over the synthetic accelerometer (3
/// channels, 128-sample windows, hop 64), built the way tests/EdgeAgent.FleetSim builds its releases (QdqCnn1d +
/// BundleDraft.Fill): a small 1.0.0 every device installs from nothing, and a 2.0.0 of about the size the issue asks a
/// rollout to carry (~1 MB of int8 convolution weights, which do not compress), same contract, so the devices hot-swap it.
/// Stateless, thread-safe.
/// </summary>
public static class RolloutReleases
{
    public const string Family = "chaos-har";
    private const int Conv1Filters = 128, KernelSize = 5;

    /// <summary>Release 1.0.0, windowing declared at <paramref name="sampleRateHz"/> (the devices' sensor rate).</summary>
    public static RolloutRelease First(double sampleRateHz) =>
        Build("1.0.0", 1, new QdqCnn1dOptions { Seed = 7, ModelVersion = 1, SampleRateHz = sampleRateHz });

    /// <summary>Release 2.0.0 with about <paramref name="modelBytes"/> bytes of model.</summary>
    public static RolloutRelease Sized(long modelBytes, double sampleRateHz)
    {
        int conv2 = (int)Math.Clamp(modelBytes / (Conv1Filters * KernelSize), 32, 100_000);
        return Build("2.0.0", 2, new QdqCnn1dOptions
        {
            Seed = 11, ModelVersion = 2, Conv1Filters = Conv1Filters, Conv2Filters = conv2, KernelSize = KernelSize, SampleRateHz = sampleRateHz,
            CalibrationSamples = 32, // the C# float reference costs ~65 M multiply-adds per window at this size: keep generation to seconds
        });
    }

    private static RolloutRelease Build(string version, long counter, QdqCnn1dOptions options)
    {
        byte[] onnx = QdqCnn1d.Generate(options).OnnxBytes;
        var manifest = new BundleManifest
        {
            Name = Family,
            Version = version,
            ReleaseCounter = counter,
            HardwareIds = [HardwareId],
            Labels = [.. options.Labels],
            Windowing = new WindowingSpec { Length = options.WindowLength, Stride = options.HopLength, Channels = options.ChannelNames.Count, SampleRateHz = options.SampleRateHz },
            ConfidenceThreshold = 0.6,
            // The device checks p99 latency before it activates; three daemons, a hub and other engineers' builds share
            // two cores here, so the budget is far above the model's own cost (0.2 ms per window measured by FleetSim).
            LatencyBudgetMs = 5000,
        };
        BundleDraft.Fill(manifest, onnx, count: 8, tolerance: 0.02f, seed: 1, source: $"{Family}@{version}");
        return new RolloutRelease(version, counter, onnx, BundleManifestJson.Serialize(manifest));
    }

    /// <summary>The hardware id the releases list and the rig's daemons report.</summary>
    public const string HardwareId = "linux-x64";
}
