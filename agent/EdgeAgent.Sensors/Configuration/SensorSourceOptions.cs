namespace EdgeAgent.Sensors.Configuration;

/// <summary>
/// The <c>sensors</c> section of the agent configuration: which source to run (<see cref="Kind"/>) and
/// the options of that kind. Plain settable properties so both the configuration binder and
/// <see cref="SensorsJsonContext"/> can fill it; <see cref="SensorSourceFactory"/> validates it.
/// </summary>
/// <example><code>
/// "sensors": { "kind": "gpio", "gpio": { "chip": "/dev/gpiochip0", "lines": [ { "offset": 17, "name": "door" } ] } }
/// "sensors": { "kind": "file", "stream": { "path": "/var/lib/edgeagent/walk.csv", "replay": "recorded", "speed": 2 } }
/// </code></example>
public sealed class SensorSourceOptions
{
    /// <summary>One of <see cref="SensorSourceFactory.Kinds"/>: gpio, iio, file, fifo, serial, stdin, socket, synthetic.</summary>
    public string Kind { get; set; } = "";
    public GpioSourceOptions? Gpio { get; set; }
    public IioSourceOptions? Iio { get; set; }
    /// <summary>For kinds file, fifo, serial and stdin.</summary>
    public StreamSourceOptions? Stream { get; set; }
    public SocketSourceOptions? Socket { get; set; }
    public SyntheticSourceOptions? Synthetic { get; set; }
}

public sealed class GpioLineOptions
{
    public uint Offset { get; set; }
    public string? Name { get; set; }
}

public sealed class GpioSourceOptions
{
    public string Chip { get; set; } = "/dev/gpiochip0";
    public List<GpioLineOptions> Lines { get; set; } = [];
    /// <summary>edges | levels</summary>
    public string Mode { get; set; } = "edges";
    /// <summary>both | rising | falling</summary>
    public string Edge { get; set; } = "both";
    public bool ActiveLow { get; set; }
    /// <summary>as-is | pull-up | pull-down | disabled</summary>
    public string Bias { get; set; } = "as-is";
    public uint DebounceUs { get; set; }
    public double PollRateHz { get; set; } = 100;
    public uint EventBufferSize { get; set; }
    public string Consumer { get; set; } = "edgeagent";
}

public sealed class IioSourceOptions
{
    public string SysfsRoot { get; set; } = "/sys/bus/iio/devices";
    public string Device { get; set; } = "";
    public List<string> Channels { get; set; } = [];
    public double RateHz { get; set; } = 50;
}

/// <summary>Text format options shared by line streams and the socket.</summary>
public class LineFormatOptions
{
    /// <summary>csv | jsonl</summary>
    public string Format { get; set; } = "csv";
    public List<string> Channels { get; set; } = [];
    public bool CsvHeader { get; set; } = true;
    /// <summary>Timestamp field/column in seconds; empty for none.</summary>
    public string? TimestampField { get; set; } = "t";
    public int MaxLineBytes { get; set; } = 4096;
    public double? NominalRateHz { get; set; }
}

public sealed class StreamSourceOptions : LineFormatOptions
{
    /// <summary>File, FIFO or serial device path (ignored for stdin).</summary>
    public string Path { get; set; } = "";
    /// <summary>recorded | fast</summary>
    public string Replay { get; set; } = "fast";
    public double Speed { get; set; } = 1.0;
    /// <summary>Serial only.</summary>
    public int BaudRate { get; set; } = 115200;
    /// <summary>FIFO only: create it (mode 0660) when missing.</summary>
    public bool CreateFifo { get; set; } = true;
    /// <summary>FIFO only: end the source when the last writer closes instead of waiting for the next.</summary>
    public bool StopWhenWriterCloses { get; set; }
}

public sealed class SocketSourceOptions : LineFormatOptions
{
    public string Path { get; set; } = "/run/edgeagent/sensors.sock";
    /// <summary>Octal permissions of the socket file.</summary>
    public string Mode { get; set; } = "660";
    public int MaxClients { get; set; } = 8;
    public int QueueCapacity { get; set; } = 1024;
}

public sealed class SyntheticSourceOptions
{
    public ulong Seed { get; set; } = 1;
    public double RateHz { get; set; } = 50;
    /// <summary>Class schedule as "idle:10,walk:10,run:10,vibration-fault:10" (class:seconds, cycled).</summary>
    public string Schedule { get; set; } = "idle:10,walk:10,run:10,vibration-fault:10";
    public bool RealTime { get; set; } = true;
    public long? MaxSamples { get; set; }
    public double DriftStartSeconds { get; set; }
    public double DriftMeanPerSecond { get; set; }
    public double DriftScalePerSecond { get; set; }
    public double AnomalyRatePerSecond { get; set; }
    /// <summary>Comma-separated subset of spike, stuck, nan-burst.</summary>
    public string Anomalies { get; set; } = "spike,stuck,nan-burst";
}
