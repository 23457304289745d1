using System.Net;
using System.Text;
using Microsoft.Extensions.Configuration;

namespace EdgeAgent.Hosting.Configuration;

/// <summary>
/// Turns merged configuration into <see cref="AgentOptions"/> and checks it, collecting every problem
/// (one message each, with its path) rather than stopping at the first. Binding is by hand: no
/// reflection, so it is Native AOT safe and each bad value gets an operator-readable message.
/// </summary>
/// <remarks>Thread-safe (stateless). Checks that look at the machine (TLS files exist) are done here so
/// that a wrong path is reported at start rather than on the first connect.</remarks>
public static class AgentOptionsBinder
{
    /// <summary>Validates the opaque <c>sensors</c> section; returns one message per problem.</summary>
    public delegate IReadOnlyList<string> SectionValidator(IConfigurationSection section);

    private const int UnixSocketPathMax = 107; // sun_path is 108 bytes including the terminating NUL (unix(7)).

    /// <summary>Binds and validates. <paramref name="options"/> is null when there is any error.</summary>
    public static IReadOnlyList<ConfigProblem> Bind(IConfiguration configuration, out AgentOptions? options, SectionValidator? sensorsValidator = null)
    {
        var problems = new List<ConfigProblem>();
        var root = new ConfigReader(configuration, "", problems);

        string? deviceId = root.String("DeviceId");
        if (deviceId is null) root.Error("DeviceId", "missing; set the device id (letters, digits, '.', '_', '-'; at most 64) in agent.json or EDGEAGENT__DEVICEID");
        else if (!IsValidId(deviceId)) root.Error("DeviceId", $"'{deviceId}' may only contain letters, digits, '.', '_' and '-' (at most 64 characters): it is used in MQTT topic names");

        string state = AbsoluteDirectory(root, "StateDirectory", "/var/lib/edgeagent");
        string runtime = AbsoluteDirectory(root, "RuntimeDirectory", "/run/edgeagent");
        string models = AbsoluteDirectory(root, "ModelStoreDirectory", System.IO.Path.Combine(state, "models"));
        string control = AbsoluteDirectory(root, "ControlSocketPath", System.IO.Path.Combine(runtime, "control.sock"));
        if (Encoding.UTF8.GetByteCount(control) > UnixSocketPathMax)
            root.Error("ControlSocketPath", $"'{control}' is longer than {UnixSocketPathMax} bytes, the limit of a Unix socket path; choose a shorter path");
        var shutdown = root.Duration("ShutdownTimeout", TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(10));

        var mqtt = BindMqtt(root.Section("Mqtt"), deviceId ?? "");
        var outbox = BindOutbox(root.Section("Outbox"));
        var metrics = BindMetrics(root.Section("Metrics"));
        var logging = BindLogging(root.Section("Logging"), state);
        var cloud = ServiceSectionsBinder.BindCloud(root.Section("Cloud"));
        var outputs = ServiceSectionsBinder.BindOutputs(root.Section("Outputs"));
        var pipeline = ServiceSectionsBinder.BindPipeline(root.Section("Pipeline"));

        var sensors = root.Opaque("Sensors");
        if (sensors is null)
            root.Error("Sensors", "missing; add a \"sensors\" section naming the sensor source (for example \"sensors\": { \"kind\": \"synthetic\" })");
        else if (sensorsValidator is not null)
            foreach (var message in sensorsValidator(sensors))
                problems.Add(SensorProblem(message));

        var updates = root.Opaque("Updates");
        root.WarnUnknownKeys();

        options = problems.Any(p => p.Severity == ConfigProblemSeverity.Error) ? null : new AgentOptions
        {
            DeviceId = deviceId!,
            StateDirectory = state,
            RuntimeDirectory = runtime,
            ModelStoreDirectory = models,
            ControlSocketPath = control,
            ShutdownTimeout = shutdown,
            Mqtt = mqtt,
            Outbox = outbox,
            Metrics = metrics,
            Logging = logging,
            Cloud = cloud,
            Outputs = outputs,
            Pipeline = pipeline,
            Sensors = sensors,
            Updates = updates,
        };
        return problems;
    }

    // The sensor library writes "sensors.kind: message"; keep its path when present.
    private static ConfigProblem SensorProblem(string message)
    {
        int colon = message.IndexOf(": ", StringComparison.Ordinal);
        return colon > 0 && message.StartsWith("sensors", StringComparison.OrdinalIgnoreCase) && !message[..colon].Contains(' ')
            ? new(ConfigProblemSeverity.Error, message[..colon], message[(colon + 2)..])
            : new(ConfigProblemSeverity.Error, "sensors", message);
    }

    private static MqttOptions BindMqtt(ConfigReader r, string deviceId)
    {
        string? host = r.String("Host");
        if (host is null) r.Error("Host", "missing; set the MQTT broker host name or address");
        else if (Uri.CheckHostName(host) == UriHostNameType.Unknown) r.Error("Host", $"'{host}' is not a host name or IP address");

        bool tls = r.Bool("UseTls", true);
        int port = r.Int("Port", tls ? 8883 : 1883, 1, 65535);
        string? ca = ReadableFile(r, "CaFile");
        string? cert = ReadableFile(r, "CertFile");
        string? key = ReadableFile(r, "KeyFile");
        if ((cert is null) != (key is null))
            r.Error(cert is null ? "CertFile" : "KeyFile", "certFile and keyFile must be set together for TLS client authentication");
        if (!tls && (ca ?? cert ?? key) is not null)
            r.Warning("UseTls", "is false but TLS files are configured; they are ignored and traffic is not encrypted");

        // Checked only when set: the default (the device id) has been checked already.
        string? explicitClientId = r.String("ClientId");
        string clientId = explicitClientId ?? deviceId;
        if (explicitClientId is not null && !IsValidId(clientId))
            r.Error("ClientId", $"'{clientId}' may only contain letters, digits, '.', '_', '-' (at most 64 characters)");

        var keepAlive = r.Duration("KeepAlive", TimeSpan.FromSeconds(30), TimeSpan.Zero, TimeSpan.FromSeconds(65535));
        string? user = r.String("Username");
        string? password = r.String("Password");
        if (password is not null && user is null) r.Error("Username", "missing while a password is set");
        if (password is not null && !tls) r.Warning("Password", "is sent in clear text because useTls is false");
        r.WarnUnknownKeys();
        return new MqttOptions
        {
            Host = host ?? "", Port = port, UseTls = tls, CaFile = ca, CertFile = cert, KeyFile = key,
            ClientId = clientId, KeepAlive = keepAlive, Username = user, Password = password,
        };
    }

    private static OutboxOptions BindOutbox(ConfigReader r)
    {
        var o = new OutboxOptions
        {
            BudgetBytes = r.Bytes("BudgetBytes", 64L * 1024 * 1024, 1024 * 1024),
            GroupCommitWindow = r.Duration("GroupCommitWindow", TimeSpan.FromMilliseconds(50), TimeSpan.Zero, TimeSpan.FromSeconds(10)),
            GroupCommitMaxRecords = r.Int("GroupCommitMaxRecords", 256, 1, 100_000),
            AwaitHubAck = r.Bool("AwaitHubAck", true),
        };
        r.WarnUnknownKeys();
        return o;
    }

    private static MetricsOptions BindMetrics(ConfigReader r)
    {
        bool enabled = r.Bool("Enabled", true);
        int port = r.Int("Port", 9464, 1, 65535);
        string bind = r.String("Bind") ?? "127.0.0.1";
        if (!IPAddress.TryParse(bind, out var address)) r.Error("Bind", $"'{bind}' is not an IP address (use 127.0.0.1)");
        else if (!IPAddress.IsLoopback(address))
            r.Warning("Bind", $"{bind} is not a loopback address: the metrics endpoint has no authentication and becomes reachable from the network");
        r.WarnUnknownKeys();
        return new MetricsOptions { Enabled = enabled, Port = port, Bind = bind };
    }

    private static LoggingOptions BindLogging(ConfigReader r, string stateDirectory)
    {
        var level = r.Enum("Level", Serilog.Events.LogEventLevel.Information);
        string path = r.String("FilePath") ?? System.IO.Path.Combine(stateDirectory, "log", "agent.log");
        if (!System.IO.Path.IsPathFullyQualified(path)) r.Error("FilePath", $"'{path}' must be an absolute path");
        var o = new LoggingOptions
        {
            Level = level,
            FilePath = path,
            RetainedFiles = r.Int("RetainedFiles", 7, 1, 365),
            FileSizeLimitBytes = r.Bytes("FileSizeLimitBytes", 10L * 1024 * 1024, 64 * 1024),
        };
        r.WarnUnknownKeys();
        return o;
    }

    private static string AbsoluteDirectory(ConfigReader r, string key, string fallback)
    {
        string? v = r.String(key);
        if (v is null) return fallback;
        if (!System.IO.Path.IsPathFullyQualified(v)) { r.Error(key, $"'{v}' must be an absolute path"); return fallback; }
        return System.IO.Path.TrimEndingDirectorySeparator(v);
    }

    private static string? ReadableFile(ConfigReader r, string key)
    {
        string? v = r.String(key);
        if (v is null) return null;
        if (!System.IO.Path.IsPathFullyQualified(v)) r.Error(key, $"'{v}' must be an absolute path");
        else if (!File.Exists(v)) r.Error(key, $"file '{v}' does not exist");
        else
        {
            try { using var _ = File.OpenRead(v); }
            catch (Exception e) when (e is UnauthorizedAccessException or IOException)
            {
                r.Error(key, $"file '{v}' cannot be read by this user ({e.Message}); check its owner and mode");
            }
        }
        return v;
    }

    private static bool IsValidId(string id) =>
        id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');
}
