using System.Globalization;

namespace EdgeAgent.Hosting.Configuration;

/// <summary>
/// The <c>cloud</c> section: the cloud inference tier (issue 6). Hard cases go as MQTT 5 requests to
/// <c>edgeagent/v1/{id}/infer/req</c> over the agent's MQTT connection; when the answer does not come in
/// <see cref="Timeout"/>, the circuit is open or the budget is spent, the local answer stands and the case is
/// queued in the outbox stream <c>fallback-case</c>.
/// </summary>
public sealed record CloudOptions
{
    /// <summary>False: every hard case falls back at once (reason <c>cloud-disabled</c>) and is queued.</summary>
    public bool Enabled { get; init; } = true;
    /// <summary>Publish + answer must fit in this time.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>Sustained cloud requests per second (token bucket refill).</summary>
    public double RequestsPerSecond { get; init; } = 5;
    /// <summary>Largest burst of cloud requests.</summary>
    public int Burst { get; init; } = 10;
    /// <summary>Requests per UTC day; null = unlimited.</summary>
    public long? DailyBudget { get; init; } = 10_000;
    /// <summary>Concurrent cloud requests.</summary>
    public int Workers { get; init; } = 4;
    /// <summary>Hard cases waiting for a worker; more fall back at once (<c>cloud-busy</c>).</summary>
    public int QueueCapacity { get; init; } = 32;
    public CircuitOptions Circuit { get; init; } = new();
}

/// <summary>The <c>cloud.circuit</c> section (Polly circuit breaker).</summary>
public sealed record CircuitOptions
{
    public int MinimumThroughput { get; init; } = 5;
    public double FailureRatio { get; init; } = 0.5;
    public TimeSpan SamplingDuration { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan BreakDuration { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>The <c>outputs</c> section: where each window's result goes besides telemetry.</summary>
public sealed record OutputsOptions
{
    /// <summary>One JSON line per result on standard output (journald under systemd).</summary>
    public bool Stdout { get; init; }
    /// <summary>Append JSON lines to this file (absolute path; its directory must exist).</summary>
    public string? File { get; init; }
    public MqttOutputOptions? Mqtt { get; init; }
    public GpioOutputOptions? Gpio { get; init; }
}

/// <summary>The <c>outputs.mqtt</c> section: results as JSON on a (local) MQTT topic.</summary>
public sealed record MqttOutputOptions
{
    public required string Topic { get; init; }
    /// <summary>0 or 1.</summary>
    public int QoS { get; init; }
    public bool Retain { get; init; }
    /// <summary>A local broker (plain TCP) to publish to; null publishes over the agent's own MQTT connection.</summary>
    public string? Host { get; init; }
    public int Port { get; init; } = 1883;
}

/// <summary>The <c>outputs.gpio</c> section: a digital line that is active while the result is one of <see cref="ActiveLabels"/>.</summary>
public sealed record GpioOutputOptions
{
    /// <summary>A file holding 1 or 0: a sysfs GPIO <c>value</c> file (or a file another service watches).</summary>
    public required string ValueFile { get; init; }
    public required IReadOnlyList<string> ActiveLabels { get; init; }
}

/// <summary>The <c>pipeline</c> section: gate and drift settings that are not part of the model manifest.</summary>
public sealed record PipelineSettings
{
    /// <summary>Out-of-distribution score (0–1) at or above which a confident window still goes to the cloud; null = confidence only.</summary>
    public double? OutOfDistributionThreshold { get; init; }
    /// <summary>Drift sketches are snapshotted (and scored) this often.</summary>
    public TimeSpan DriftSnapshotInterval { get; init; } = TimeSpan.FromMinutes(15);
    /// <summary>... or after this many windows (null = time only).</summary>
    public long? DriftSnapshotEveryWindows { get; init; }
}

/// <summary>Binds and checks <c>cloud</c>, <c>outputs</c> and <c>pipeline</c>; one message per problem.</summary>
internal static class ServiceSectionsBinder
{
    public static CloudOptions BindCloud(ConfigReader r)
    {
        var c = r.Section("Circuit");
        var circuit = new CircuitOptions
        {
            // Polly refuses fewer than 2 and a ratio outside (0, 1].
            MinimumThroughput = c.Int("MinimumThroughput", 5, 2, 100_000),
            FailureRatio = c.Double("FailureRatio", 0.5, 0.01, 1),
            SamplingDuration = c.Duration("SamplingDuration", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500), TimeSpan.FromDays(1)),
            BreakDuration = c.Duration("BreakDuration", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500), TimeSpan.FromDays(1)),
        };
        c.WarnUnknownKeys();
        long? daily = 10_000;
        if (r.String("DailyBudget") is { } budget)
        {
            if (budget.Equals("unlimited", StringComparison.OrdinalIgnoreCase)) daily = null;
            else if (long.TryParse(budget, NumberStyles.None, CultureInfo.InvariantCulture, out long n)) daily = n;
            else r.Error("DailyBudget", $"'{budget}' is not a whole number of requests per day or \"unlimited\"");
        }
        var o = new CloudOptions
        {
            Enabled = r.Bool("Enabled", true),
            Timeout = r.Duration("Timeout", TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1)),
            RequestsPerSecond = r.Double("RequestsPerSecond", 5, 0.001, 100_000),
            Burst = r.Int("Burst", 10, 1, 100_000),
            DailyBudget = daily,
            Workers = r.Int("Workers", 4, 1, 64),
            QueueCapacity = r.Int("QueueCapacity", 32, 1, 100_000),
            Circuit = circuit,
        };
        r.WarnUnknownKeys();
        return o;
    }

    public static OutputsOptions BindOutputs(ConfigReader r)
    {
        bool stdout = r.Bool("Stdout", false);
        string? file = r.String("File");
        if (file is not null) CheckWritableLocation(r, "File", file);

        MqttOutputOptions? mqtt = null;
        if (r.Opaque("Mqtt") is not null)
        {
            var m = r.Section("Mqtt");
            string? topic = m.String("Topic");
            if (topic is null) m.Error("Topic", "missing; name the topic results are published to, for example \"plant/line1/edgeagent/result\"");
            else if (topic.Contains('+') || topic.Contains('#') || topic.Contains('\0') || topic.StartsWith('$'))
                m.Error("Topic", $"'{topic}' is not a topic name: no wildcards (+, #), no leading '$'");
            int qos = m.Int("Qos", 0, 0, 1);
            bool retain = m.Bool("Retain", false);
            string? host = m.String("Host");
            if (host is not null && Uri.CheckHostName(host) == UriHostNameType.Unknown) m.Error("Host", $"'{host}' is not a host name or IP address");
            int port = m.Int("Port", 1883, 1, 65535);
            m.WarnUnknownKeys();
            mqtt = new MqttOutputOptions { Topic = topic ?? "", QoS = qos, Retain = retain, Host = host, Port = port };
        }

        GpioOutputOptions? gpio = null;
        if (r.Opaque("Gpio") is not null)
        {
            var g = r.Section("Gpio");
            string? valueFile = g.String("ValueFile");
            if (valueFile is null) g.Error("ValueFile", "missing; the GPIO line's value file, for example /sys/class/gpio/gpio17/value");
            else CheckWritableLocation(g, "ValueFile", valueFile);
            var labels = g.StringList("ActiveLabels");
            if (labels.Count == 0) g.Error("ActiveLabels", "missing; list the labels that switch the line on, for example [\"vibration_fault\"]");
            g.WarnUnknownKeys();
            gpio = new GpioOutputOptions { ValueFile = valueFile ?? "", ActiveLabels = labels };
        }
        r.WarnUnknownKeys();
        return new OutputsOptions { Stdout = stdout, File = file, Mqtt = mqtt, Gpio = gpio };
    }

    public static PipelineSettings BindPipeline(ConfigReader r)
    {
        double? ood = r.Has("OutOfDistributionThreshold") ? r.Double("OutOfDistributionThreshold", 0.05, 0.0001, 1) : null;
        var d = r.Section("Drift");
        var interval = d.Duration("SnapshotInterval", TimeSpan.FromMinutes(15), TimeSpan.FromSeconds(1), TimeSpan.FromDays(7));
        long? every = d.Has("SnapshotEveryWindows") ? d.Int("SnapshotEveryWindows", 1000, 1, int.MaxValue) : null;
        d.WarnUnknownKeys();
        r.WarnUnknownKeys();
        return new PipelineSettings { OutOfDistributionThreshold = ood, DriftSnapshotInterval = interval, DriftSnapshotEveryWindows = every };
    }

    private static void CheckWritableLocation(ConfigReader r, string key, string path)
    {
        if (!Path.IsPathFullyQualified(path)) r.Error(key, $"'{path}' must be an absolute path");
        else if (Path.GetDirectoryName(path) is { } dir && !Directory.Exists(dir)) r.Error(key, $"directory '{dir}' does not exist");
    }
}
