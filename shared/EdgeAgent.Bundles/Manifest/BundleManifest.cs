using EdgeAgent.Sketches.Profiles;

namespace EdgeAgent.Bundles.Manifest;

/// <summary>
/// <c>manifest.json</c> of a model bundle: everything a device needs to decide whether it may run
/// <c>model.onnx</c> and how. Written by the hub (or <c>edgeagent bundle build</c>), read by the
/// device after the bundle's TUF hashes matched. Plain data; validated by <see cref="ManifestRules"/>.
/// </summary>
public sealed class BundleManifest
{
    /// <summary>Manifest format; readers refuse versions they do not know.</summary>
    public int FormatVersion { get; set; } = ManifestRules.CurrentFormatVersion;

    /// <summary>Model family (e.g. <c>kws</c>): the release counter is monotonic per family.</summary>
    public string Name { get; set; } = "";

    /// <summary>Release name shown to operators (e.g. <c>1.4.0</c>); also the TUF target file name.</summary>
    public string Version { get; set; } = "";

    /// <summary>Uptane-style release counter: a device never installs a lower one for the same family.</summary>
    public long ReleaseCounter { get; set; }

    /// <summary>Hardware ids this bundle may run on (a device refuses a bundle that does not list its own id).</summary>
    public List<string> HardwareIds { get; set; } = [];

    /// <summary>Model inputs (names, element types, shapes): must equal what ONNX Runtime reports for <c>model.onnx</c>.</summary>
    public List<TensorDescriptor> Inputs { get; set; } = [];

    /// <summary>Model outputs, as <see cref="Inputs"/>.</summary>
    public List<TensorDescriptor> Outputs { get; set; } = [];

    /// <summary>Class labels in output order.</summary>
    public List<string> Labels { get; set; } = [];

    /// <summary>How the sensor stream becomes model input windows.</summary>
    public WindowingSpec Windowing { get; set; } = new();

    /// <summary>Top-class probability below which a prediction is a "hard case" (sent to the cloud tier).</summary>
    public double ConfidenceThreshold { get; set; }

    /// <summary>Single-inference p99 latency the model must meet on the device, in milliseconds.</summary>
    public double LatencyBudgetMs { get; set; }

    /// <summary>Inputs with expected outputs, checked on the device before activation.</summary>
    public GoldenVectorSet GoldenVectors { get; set; } = new();

    /// <summary>Training-data drift profile (KLL sketches per input feature), or null.</summary>
    public ReferenceProfileDocument? DriftProfile { get; set; }

    /// <summary>The model file: its name in the tar, length and SHA-256.</summary>
    public ModelFileInfo Model { get; set; } = new();
}

/// <summary>One tensor of the model contract. Element type names as ONNX/numpy spell them (<c>float32</c>, <c>int8</c>, ...).</summary>
public sealed class TensorDescriptor
{
    public string Name { get; set; } = "";
    public string ElementType { get; set; } = "";
    public List<long> Shape { get; set; } = [];

    public override string ToString() => $"'{Name}' [{string.Join(',', Shape)}] {ElementType}";
}

/// <summary>Windowing of the sensor stream into model inputs.</summary>
public sealed class WindowingSpec
{
    /// <summary>Samples per window (per channel).</summary>
    public int Length { get; set; }

    /// <summary>Samples between the starts of consecutive windows.</summary>
    public int Stride { get; set; }

    /// <summary>Channels per sample.</summary>
    public int Channels { get; set; } = 1;

    /// <summary>Nominal sample rate, or 0 when not time based.</summary>
    public double SampleRateHz { get; set; }
}

/// <summary>Golden vectors: the model must reproduce <see cref="GoldenVector.Expected"/> within <see cref="Tolerance"/> (max absolute difference).</summary>
public sealed class GoldenVectorSet
{
    public float Tolerance { get; set; }
    public List<GoldenVector> Vectors { get; set; } = [];
}

/// <summary>One float32 input (single input tensor, row-major) and the expected float32 output of the first output tensor.</summary>
public sealed class GoldenVector
{
    public float[] Input { get; set; } = [];
    public float[] Expected { get; set; } = [];
}

/// <summary>Model file entry: always <c>model.onnx</c> in format 1.</summary>
public sealed class ModelFileInfo
{
    public string File { get; set; } = BundleLayout.ModelEntry;
    public long Length { get; set; }
    public string Sha256 { get; set; } = "";
}
