using EdgeAgent.Onnx;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Sensors.Windowing;

namespace EdgeAgent.FleetSim.Devices;

/// <summary>
/// The model every simulated device serves: the generated INT8 QDQ 1-D CNN over the synthetic
/// accelerometer (ax, ay, az; 128-sample windows, hop 64), written once per process.
/// </summary>
/// <remarks>
/// <para>By default one <see cref="InferenceEngine"/> (one ORT session) serves every device of a process;
/// each device's pipeline still rents its own lease (own native buffers). ORT sessions are thread-safe for
/// Run, and on a real fleet each device has its own session anyway: what sharing saves here is the
/// per-session memory that a thousand copies would add on one machine (measured, docs/FLEET.md).
/// <see cref="EnginePerDevice"/> gives every device its own session for that measurement.</para>
/// <para>Thread-safe; owns the shared engine (dispose after the devices).</para>
/// </remarks>
public sealed class FleetModel : IDisposable
{
    private FleetModel(string path, GeneratedModel generated, QdqCnn1dOptions options, bool enginePerDevice)
    {
        ModelPath = path;
        Labels = generated.Labels;
        EnginePerDevice = enginePerDevice;
        Window = new WindowSpec { Length = options.WindowLength, Hop = options.HopLength, Channels = options.ChannelNames };
        SharedEngine = enginePerDevice ? null : LoadEngine();
    }

    /// <summary>Drift and telemetry key (<c>MODEL@VERSION</c>), as the agent derives it from the manifest.</summary>
    public string ModelKey => "fleet-har@1.0.0";

    public string ModelPath { get; }
    public IReadOnlyList<string> Labels { get; }
    public WindowSpec Window { get; }
    public bool EnginePerDevice { get; }

    /// <summary>The engine every device of this process shares; null when <see cref="EnginePerDevice"/>.</summary>
    public InferenceEngine? SharedEngine { get; }

    /// <summary>Writes the generated model to <paramref name="directory"/>/model.onnx and loads it.</summary>
    public static FleetModel Create(string directory, bool enginePerDevice)
    {
        var options = new QdqCnn1dOptions();
        var generated = QdqCnn1d.Generate(options);
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, "model.onnx");
        File.WriteAllBytes(path, generated.OnnxBytes);
        return new FleetModel(path, generated, options, enginePerDevice);
    }

    public InferenceEngine LoadEngine() => InferenceEngine.Load(ModelPath);

    public void Dispose() => SharedEngine?.Dispose();
}
