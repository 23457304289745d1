using System.Text;
using System.Text.Json;
using EdgeAgent.Agent.Configuration;
using EdgeAgent.Agent.Telemetry;
using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Control;
using EdgeAgent.Hosting.Systemd;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Onnx;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.Pipeline.Drift;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Pipeline.Gating;
using EdgeAgent.Pipeline.Inference;
using EdgeAgent.Sensors.Configuration;
using EdgeAgent.Sensors.Windowing;
using EdgeAgent.Updates;
using EdgeAgent.Updates.Slots;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Agent.Service;

/// <summary>
/// The daemon's main loop (<c>edgeagent run</c>): opens the outbox, connects MQTT when a broker is
/// configured and drains the outbox to it, serves the last committed model (cold start works with no
/// network at all) from the sensor source through the inference pipeline, and reports READY once the
/// pipeline runs. The watchdog is fed only while the pipeline makes progress.
/// </summary>
internal sealed class AgentService(AgentOptions options, ServiceStatus status, LivenessMonitor liveness,
    ControlCommandRegistry control, ILoggerFactory loggers) : BackgroundService
{
    /// <summary>The outbox database under the state directory (doctor reads the same file).</summary>
    public const string OutboxFileName = "outbox.db";

    private readonly ILogger _log = loggers.CreateLogger<AgentService>();
    private InstalledModel? _model;
    private InferencePipeline? _pipeline;
    private TelemetryOutbox? _outbox;
    private MqttClient? _mqtt;
    private readonly RecentErrors _errors = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Directory.CreateDirectory(options.StateDirectory);
        await using var outbox = await TelemetryOutbox.OpenAsync(new Outbox.Queue.OutboxOptions
        {
            DatabasePath = Path.Combine(options.StateDirectory, OutboxFileName),
            BudgetBytes = options.Outbox.BudgetBytes,
            CommitWindow = options.Outbox.GroupCommitWindow,
        }, new DriftSnapshotMerger(), logger: loggers.CreateLogger<TelemetryOutbox>());
        _outbox = outbox;
        if (outbox.OpenReport.QuarantinedTo is { } moved)
        {
            _log.LogWarning("Outbox database was corrupt and was moved aside to {Path}; a fresh one was started", moved);
            _errors.Add("outbox", $"database was corrupt and was moved aside to {moved}; a fresh one was started");
        }
        control.Register("agent.status", (_, _) => ValueTask.FromResult(StatusJson()));
        control.Register(AgentControlCommands.ModelsList, (_, _) => ValueTask.FromResult(AgentControlCommands.ModelsJson(options.ModelStoreDirectory)));
        control.Register(AgentControlCommands.TelemetryStats, (_, _) => ValueTask.FromResult(AgentControlCommands.OutboxJson(outbox.GetStatistics())));

        await using var mqtt = options.Mqtt.Host.Length > 0 ? CreateMqttClient() : null;
        _mqtt = mqtt;
        if (mqtt is not null)
            mqtt.ConnectionStateChanged += (_, e) =>
            {
                if (e.State == MqttConnectionState.Disconnected && e.Reason is { } reason)
                    _errors.Add("mqtt", $"disconnected from {options.Mqtt.Host}:{options.Mqtt.Port}: {reason.Message}");
            };
        var background = new List<Task>();
        if (mqtt is not null)
        {
            await ConnectOnceAsync(mqtt, stoppingToken);
            var drainer = new OutboxDrainer(outbox, new MqttTelemetryTransport(mqtt), new DrainerOptions { DeviceId = options.DeviceId },
                logger: loggers.CreateLogger<OutboxDrainer>());
            background.Add(drainer.RunAsync(stoppingToken));
        }

        _model = FindInstalledModel(options.ModelStoreDirectory);
        if (_model is null)
        {
            status.ReportReady($"no model installed in {options.ModelStoreDirectory}; waiting for an update");
            _log.LogWarning("No model installed in {Directory}: the agent runs without inference until one is installed", options.ModelStoreDirectory);
            _errors.Add("model", $"no model installed in {options.ModelStoreDirectory}; install one with 'edgeagent bundle install'");
            var idle = liveness.Register("agent", TimeSpan.FromSeconds(60));
            while (!stoppingToken.IsCancellationRequested)
            {
                idle.Beat();
                try { await Task.Delay(TimeSpan.FromSeconds(5), stoppingToken); } catch (OperationCanceledException) { }
            }
        }
        else
        {
            await ServeAsync(_model, outbox, stoppingToken);
        }

        status.ReportStopping();
        foreach (var task in background)
        {
            try { await task; } catch (OperationCanceledException) { }
        }
        await outbox.FlushAsync(CancellationToken.None);
    }

    private async Task ServeAsync(InstalledModel model, TelemetryOutbox outbox, CancellationToken stoppingToken)
    {
        var manifest = model.Manifest;
        using var engine = InferenceEngine.Load(model.ModelPath);
        var sensorOptions = SensorsSection.Bind(options.Sensors ?? throw new SensorConfigurationException(["sensors: missing; the agent needs a sensor source"]));
        await using var source = SensorSourceFactory.Create(sensorOptions);
        // The manifest gives the channel count; the source's first channels feed the model in order.
        var spec = new WindowSpec
        {
            Length = manifest.Windowing.Length,
            Hop = manifest.Windowing.Stride,
            Channels = source.Channels.Take(manifest.Windowing.Channels).ToArray(),
        };
        var pipeline = new InferencePipeline(source, spec, engine, outbox, new InferencePipelineOptions
        {
            // MODEL@VERSION: the drift key the hub groups fleet sketches by.
            Model = $"{manifest.Name}@{manifest.Version}",
            Labels = manifest.Labels,
            Gate = new GateOptions { ConfidenceThreshold = (float)manifest.ConfidenceThreshold },
        });
        _pipeline = pipeline;

        // Fed by pipeline progress: a stalled sensor or inference loop stops the watchdog pings, and
        // systemd restarts the service. A window takes Length / rate seconds to fill, so allow several.
        double windowSeconds = manifest.Windowing.SampleRateHz > 0 ? manifest.Windowing.Length / manifest.Windowing.SampleRateHz : 1;
        var beat = liveness.Register("pipeline", TimeSpan.FromSeconds(Math.Max(30, 5 * windowSeconds)));
        var running = pipeline.RunAsync(stoppingToken);
        status.ReportReady($"serving {manifest.Name} {manifest.Version} from slot {model.Slot}");
        _log.LogInformation("Serving {Model} {Version} from slot {Slot} on {Source}", manifest.Name, manifest.Version, model.Slot, source.Name);

        long last = -1;
        while (!running.IsCompleted)
        {
            long progress = pipeline.Counters.Progress;
            if (progress != last) { beat.Beat(); last = progress; }
            await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None));
        }
        try
        {
            await running;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _errors.Add("pipeline", e.Message);
            throw;
        }
    }

    /// <summary>The first model family in the store with a verified active slot (one family per device today).</summary>
    private static InstalledModel? FindInstalledModel(string modelStore)
    {
        if (!Directory.Exists(modelStore)) return null;
        foreach (string family in Directory.GetDirectories(modelStore).Order(StringComparer.Ordinal))
            if (UpdateManager.OpenActive(family) is { } active) return active;
        return null;
    }

    private MqttClient CreateMqttClient()
    {
        var m = options.Mqtt;
        return new MqttClient(new MqttClientOptions
        {
            Endpoint = MqttEndpoint.Tcp(m.Host, m.Port),
            Tls = m.UseTls ? MqttTlsFiles.Load(m.CaFile, m.CertFile, m.KeyFile, m.Host) : null,
            ClientId = m.ClientId.Length > 0 ? m.ClientId : options.DeviceId,
            KeepAlive = m.KeepAlive,
            Username = m.Username,
            Password = m.Password is null ? null : Encoding.UTF8.GetBytes(m.Password),
            // The outbox is the durable queue: publishes fail fast while offline and the drainer retries.
            OfflinePolicy = MqttOfflinePublishPolicy.FailFast,
            Will = new MqttApplicationMessage
            {
                Topic = $"edgeagent/v1/{options.DeviceId}/status",
                Payload = """{"online":false}"""u8.ToArray(),
                Retain = true,
                QoS = MqttQualityOfService.AtLeastOnce,
                ContentType = "application/json",
            },
        });
    }

    private async Task ConnectOnceAsync(MqttClient mqtt, CancellationToken ct)
    {
        try
        {
            await mqtt.ConnectAsync(ct);
            _log.LogInformation("MQTT connected to {Host}:{Port}", options.Mqtt.Host, options.Mqtt.Port);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Offline start is normal on a device: the client keeps reconnecting, the outbox keeps data.
            _log.LogWarning("MQTT broker {Host}:{Port} not reachable at start ({Reason}); working offline and retrying",
                options.Mqtt.Host, options.Mqtt.Port, e.Message);
            _errors.Add("mqtt", $"broker {options.Mqtt.Host}:{options.Mqtt.Port} not reachable: {e.Message}");
        }
    }

    private JsonElement StatusJson() => AgentControlCommands.Build(w =>
    {
        w.WriteStartObject();
        w.WriteString("deviceId", options.DeviceId);
        w.WriteString("status", status.Current);
        if (_model is { } m)
        {
            w.WriteStartObject("model");
            w.WriteString("name", m.Manifest.Name);
            w.WriteString("version", m.Manifest.Version);
            w.WriteString("slot", m.Slot);
            w.WriteBoolean("committed", m.Committed);
            w.WriteEndObject();
        }
        else w.WriteNull("model");
        if (_pipeline is { } p)
        {
            w.WriteStartObject("inference");
            w.WriteNumber("windows", p.Counters.Windows);
            w.WriteNumber("local", p.Counters.Local);
            w.WriteNumber("cloud", p.Counters.Cloud);
            w.WriteNumber("fallback", p.Counters.Fallback);
            w.WriteNumber("telemetryCommitted", p.Counters.TelemetryCommitted);
            w.WriteNumber("badSamples", p.SensorStats.BadTotal);
            w.WriteEndObject();
        }
        w.WriteString("mqtt", _mqtt is null ? "not configured" : _mqtt.State.ToString());
        if (_mqtt is not null) w.WriteString("mqttBroker", $"{options.Mqtt.Host}:{options.Mqtt.Port}");
        if (_outbox is { } o)
        {
            w.WriteNumber("outboxDiskBytes", o.DiskBytes);
            // Depth counts rows (one indexed scan): cheap enough for an operator's status call.
            w.WriteNumber("outboxDepth", o.GetStatistics().PendingEvents.Values.Sum());
        }
        _errors.WriteTo(w, "lastErrors");
        w.WriteEndObject();
    });
}
