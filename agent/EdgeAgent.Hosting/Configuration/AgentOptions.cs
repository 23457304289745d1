using Microsoft.Extensions.Configuration;

namespace EdgeAgent.Hosting.Configuration;

/// <summary>
/// The agent's effective configuration after defaults, <c>/etc/edgeagent/agent.json</c>, the
/// <c>EDGEAGENT__</c> environment and the command line have been merged (DESIGN §9).
/// Produced by <see cref="AgentOptionsBinder"/>; immutable once the host is built.
/// </summary>
public sealed record AgentOptions
{
    public const string DefaultConfigPath = "/etc/edgeagent/agent.json";

    /// <summary>Device identity used in MQTT topics and the client id; letters, digits, '.', '_', '-'.</summary>
    public required string DeviceId { get; init; }
    /// <summary>Persistent state (outbox, models, logs); systemd <c>StateDirectory=edgeagent</c>.</summary>
    public string StateDirectory { get; init; } = "/var/lib/edgeagent";
    /// <summary>Volatile files (control socket); systemd <c>RuntimeDirectory=edgeagent</c>.</summary>
    public string RuntimeDirectory { get; init; } = "/run/edgeagent";
    /// <summary>Model slots A/B; defaults to <c>{StateDirectory}/models</c>.</summary>
    public required string ModelStoreDirectory { get; init; }
    /// <summary>Unix socket of the local control API; defaults to <c>{RuntimeDirectory}/control.sock</c>.</summary>
    public required string ControlSocketPath { get; init; }
    /// <summary>Upper bound for draining in-flight work on SIGTERM (HostOptions.ShutdownTimeout).</summary>
    public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(20);
    public MqttOptions Mqtt { get; init; } = new();
    public OutboxOptions Outbox { get; init; } = new();
    public MetricsOptions Metrics { get; init; } = new();
    public LoggingOptions Logging { get; init; } = new();
    public CloudOptions Cloud { get; init; } = new();
    public OutputsOptions Outputs { get; init; } = new();
    public PipelineSettings Pipeline { get; init; } = new();
    /// <summary>
    /// The raw <c>sensors</c> section. Opaque here: the sensor library binds and validates it
    /// (pass its validator to <see cref="AgentOptionsBinder"/>).
    /// </summary>
    public IConfigurationSection? Sensors { get; init; }

    /// <summary>The raw <c>updates</c> section (TUF URLs, trusted root, health thresholds): bound and validated by the agent's update loop.</summary>
    public IConfigurationSection? Updates { get; init; }
}

/// <summary>The <c>mqtt</c> section: broker connection of the telemetry/outbox client.</summary>
public sealed record MqttOptions
{
    public string Host { get; init; } = "";
    /// <summary>1883 without TLS, 8883 with TLS unless set.</summary>
    public int Port { get; init; } = 8883;
    public bool UseTls { get; init; } = true;
    /// <summary>PEM file of the CA that signs the broker certificate (TLS).</summary>
    public string? CaFile { get; init; }
    /// <summary>PEM client certificate for mutual TLS; set together with <see cref="KeyFile"/>.</summary>
    public string? CertFile { get; init; }
    public string? KeyFile { get; init; }
    /// <summary>Defaults to the device id.</summary>
    public string ClientId { get; init; } = "";
    /// <summary>MQTT keep alive; a two-byte number of seconds on the wire (MQTT 5 §3.1.2.10).</summary>
    public TimeSpan KeepAlive { get; init; } = TimeSpan.FromSeconds(30);
    public string? Username { get; init; }
    /// <summary>Secret: never logged, redacted by <see cref="EffectiveConfigRenderer"/>.</summary>
    public string? Password { get; init; }
}

/// <summary>The <c>outbox</c> section: the SQLite store-and-forward queue.</summary>
public sealed record OutboxOptions
{
    /// <summary>Disk budget of the outbox database, in bytes ("64MiB" accepted).</summary>
    public long BudgetBytes { get; init; } = 64L * 1024 * 1024;
    /// <summary>How long an append may wait to share a commit with others.</summary>
    public TimeSpan GroupCommitWindow { get; init; } = TimeSpan.FromMilliseconds(50);
    /// <summary>Most records committed in one transaction.</summary>
    public int GroupCommitMaxRecords { get; init; } = 256;
    /// <summary>
    /// Delete sent events only when the hub acknowledges them end to end (<c>edgeagent/v1/{id}/ack</c>), not on
    /// the broker's PUBACK, so a broker crash loses nothing (resends are deduplicated). False for deployments
    /// whose consumer does not publish acks.
    /// </summary>
    public bool AwaitHubAck { get; init; } = true;
}

/// <summary>The <c>metrics</c> section: Prometheus text exporter.</summary>
public sealed record MetricsOptions
{
    public bool Enabled { get; init; } = true;
    public int Port { get; init; } = 9464;
    /// <summary>Address to listen on; loopback by default because the endpoint has no authentication.</summary>
    public string Bind { get; init; } = "127.0.0.1";
}

/// <summary>The <c>logging</c> section.</summary>
public sealed record LoggingOptions
{
    /// <summary>One of Verbose, Debug, Information, Warning, Error, Fatal.</summary>
    public Serilog.Events.LogEventLevel Level { get; init; } = Serilog.Events.LogEventLevel.Information;
    /// <summary>Rolling file path; the date is inserted before the extension. Defaults to <c>{StateDirectory}/log/agent.log</c>.</summary>
    public string FilePath { get; init; } = "";
    /// <summary>Number of rolled files kept.</summary>
    public int RetainedFiles { get; init; } = 7;
    /// <summary>A file rolls over early when it reaches this size.</summary>
    public long FileSizeLimitBytes { get; init; } = 10L * 1024 * 1024;
}
