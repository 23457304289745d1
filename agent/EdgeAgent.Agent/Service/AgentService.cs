using System.Text;
using System.Text.Json;
using EdgeAgent.Agent.Configuration;
using EdgeAgent.Agent.Telemetry;
using EdgeAgent.Hosting.Configuration;
using EdgeAgent.Hosting.Control;
using EdgeAgent.Hosting.Metrics;
using EdgeAgent.Hosting.Systemd;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Onnx;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Pipeline.Cloud;
using EdgeAgent.Pipeline.Drift;
using EdgeAgent.Pipeline.Gating;
using EdgeAgent.Pipeline.Inference;
using EdgeAgent.Sensors.Configuration;
using EdgeAgent.Sensors.Windowing;
using EdgeAgent.Sketches.Profiles;
using EdgeAgent.Updates;
using EdgeAgent.Updates.Slots;
using EdgeAgent.Updates.State;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Agent.Service;

/// <summary>
/// The daemon's main loop (<c>edgeagent run</c>): opens the outbox, keeps MQTT connected (retrying from an
/// offline start) and drains the outbox to it, publishes the retained device status, serves the last committed
/// model (cold start works with no network at all) from the sensor source through the inference pipeline with
/// the cloud tier and the configured outputs, feeds the Prometheus metrics, and reports READY once the pipeline
/// runs. The watchdog is fed only while the pipeline and MQTT loops make progress.
/// </summary>
/// <remarks>Control commands it answers: <c>agent.status</c>, <c>models.list</c>, <c>models.show</c>,
/// <c>telemetry.stats</c>, <c>drift.show</c>, <c>predict</c> (see <see cref="AgentControlCommands"/>).</remarks>
internal sealed class AgentService(AgentOptions options, ServiceStatus status, LivenessMonitor liveness,
    ControlCommandRegistry control, AgentMetrics metrics, ILoggerFactory loggers) : BackgroundService
{
    /// <summary>The outbox database under the state directory (doctor reads the same file).</summary>
    public const string OutboxFileName = "outbox.db";

    private readonly ILogger _log = loggers.CreateLogger<AgentService>();
    private readonly RecentErrors _errors = new();
    private InstalledModel? _model;
    private InferenceEngine? _engine;
    private InferencePipeline? _pipeline;
    private DriftView? _drift;
    private TelemetryOutbox? _outbox;
    private MqttClient? _mqtt;
    private StatusPublisher? _statusPublisher;
    private PipelineMetricsFeed? _feed;
    private UpdateLoop? _updates;
    /// <summary>Cancelled to rebuild the pipeline when an update changed the active model (new manifest: version, labels, reference).</summary>
    private CancellationTokenSource? _serving;
    private volatile bool _circuitOpen;
    private volatile string _updateState = "idle";
    private volatile string _pipelineState = "starting";

    /// <summary>
    /// The update state machine's phase as reported in the retained status and <c>edgeagent_update_state</c>
    /// (wire names: idle, downloading, verifying, validating, shadow, activating, observing, committed,
    /// rolled-back, refused). For the update loop to call on each transition. Thread-safe.
    /// </summary>
    public void ReportUpdateState(string phase)
    {
        _updateState = phase;
        _feed?.SetUpdateState(phase);
        _statusPublisher?.Notify();
    }

    private volatile bool _hostStopping;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var _ = stoppingToken.Register(() => _hostStopping = true);
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
        _model = FindInstalledModel(options.ModelStoreDirectory);
        _updateState = _model is null ? "idle" : ReadUpdatePhase(options.ModelStoreDirectory, _model.Manifest.Name);
        RegisterControlCommands(outbox);

        // Signed model updates (DESIGN §6): off when the configuration has no "updates" section.
        UpdatesOptions? updatesOptions;
        try
        {
            updatesOptions = UpdatesSection.Bind(options.Updates, options.StateDirectory);
        }
        catch (UpdatesConfigurationException e)
        {
            _log.LogCritical("Configuration error in 'updates': {Problems}", e.Message);
            Environment.ExitCode = 78; // EX_CONFIG, as for the other configuration errors: systemd does not restart on it
            throw;
        }
        await using var updates = updatesOptions is null ? null
            : new UpdateLoop(updatesOptions, options.DeviceId, options.ModelStoreDirectory, outbox, loggers);
        _updates = updates;
        if (updates is not null)
        {
            updates.RegisterControl(control);
            updates.Transition += OnUpdateTransition;
        }

        await using var mqtt = options.Mqtt.Host.Length > 0 ? CreateMqttClient() : null;
        _mqtt = mqtt;
        if (mqtt is not null) updates?.AttachMqtt(mqtt);
        _feed = new PipelineMetricsFeed(metrics, outbox, mqtt);
        _feed.SetUpdateState(_updateState);
        if (mqtt is not null)
        {
            bool wasConnected = false;
            mqtt.ConnectionStateChanged += (_, e) =>
            {
                // Only a lost connection; failed connect attempts are reported by the connection loop.
                if (e.State == MqttConnectionState.Connected) wasConnected = true;
                else if (wasConnected && e.Reason is { } reason && e.State is MqttConnectionState.Disconnected or MqttConnectionState.Reconnecting)
                {
                    wasConnected = false;
                    _errors.Add("mqtt", $"disconnected from {options.Mqtt.Host}:{options.Mqtt.Port}: {reason.Message}");
                }
            };
        }
        await using var cloud = CloudTierSetup.Create(options, mqtt, open =>
        {
            _circuitOpen = open;
            _feed.SetCircuitOpen(open);
            _statusPublisher?.Notify();
        }, _log);
        await using var statusPublisher = mqtt is null ? null
            : new StatusPublisher(mqtt, options.DeviceId, StatusFields, loggers.CreateLogger<StatusPublisher>());
        _statusPublisher = statusPublisher;
        statusPublisher?.Start();

        using var stopBackground = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var background = new List<Task>();
        if (mqtt is not null)
        {
            background.Add(new MqttConnectionLoop(mqtt, $"{options.Mqtt.Host}:{options.Mqtt.Port}", cloud, liveness, _errors,
                loggers.CreateLogger<MqttConnectionLoop>()).RunAsync(stopBackground.Token));
            if (options.Outbox.AwaitHubAck) MqttTelemetryTransport.AttachAcks(mqtt, options.DeviceId, outbox, loggers.CreateLogger<MqttTelemetryTransport>());
            var drainer = new OutboxDrainer(outbox, new MqttTelemetryTransport(mqtt),
                new DrainerOptions { DeviceId = options.DeviceId, AwaitHubAck = options.Outbox.AwaitHubAck },
                logger: loggers.CreateLogger<OutboxDrainer>());
            background.Add(drainer.RunAsync(stopBackground.Token));
        }
        if (updates is not null) background.Add(updates.RunAsync(stopBackground.Token));

        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (_model is null && (_model = await IdleAsync(stoppingToken)) is null) break;
                using var serving = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                _serving = serving;
                if (!await ServeAsync(_model, outbox, cloud, serving.Token)) break;
                // An update changed the active model: serve what the slot pointer now names.
                _model = FindInstalledModel(options.ModelStoreDirectory);
            }
        }
        finally
        {
            status.ReportStopping();
            await stopBackground.CancelAsync();
            foreach (var task in background)
            {
                try { await task; } catch (OperationCanceledException) { }
            }
            try
            {
                await outbox.FlushAsync(CancellationToken.None);
            }
            catch (Exception e) when (e is OutboxException or Microsoft.Data.Sqlite.SqliteException or IOException)
            {
                // Logged, not thrown: a failing final flush (disk full) must not hide why the service stops.
                _log.LogError(e, "Final outbox flush failed; events not yet committed are lost");
            }
        }
    }

    /// <summary>
    /// After an update ends (committed or rolled back), the active model may differ from the one the pipeline
    /// was built for: the engine already runs the new model (hot swap), but the pipeline's model key, labels and
    /// drift reference come from the old manifest. Rebuild the pipeline then (a pause of about a second).
    /// </summary>
    private void OnUpdateTransition(EdgeAgent.Updates.Events.UpdateEvent e)
    {
        ReportUpdateState(e.To);
        if (e.To is not ("committed" or "rolled-back") || _model is not { } served || e.Family != served.Manifest.Name) return;
        string? active = null;
        try
        {
            active = new UpdateStateStore(Path.Combine(options.ModelStoreDirectory, e.Family)).ReadPointer()?.ActiveVersion;
        }
        catch (Exception ex) when (ex is UpdateStateException or IOException)
        {
            _errors.Add("update", ex.Message);
        }
        if (active is not null && active != served.Manifest.Version)
        {
            _log.LogInformation("Active model of {Family} is now {Version} (was {Old}); rebuilding the pipeline", e.Family, active, served.Manifest.Version);
            try { _serving?.Cancel(); } catch (ObjectDisposedException) { }
        }
        else if (e.To == "committed" && active == served.Manifest.Version && !served.Committed)
        {
            // The model being served passed its health window (a first install): same model, nothing to rebuild, but
            // status and 'models show' must stop calling it uncommitted (they did until a restart; chaos rollout rig).
            _model = served with { Committed = true };
            _statusPublisher?.Notify();
        }
    }

    /// <summary>Idles (READY, watchdog fed) until the update loop installs a first model; null when stopping.</summary>
    private async Task<InstalledModel?> IdleAsync(CancellationToken stoppingToken)
    {
        _pipelineState = "no-model";
        status.ReportReady($"no model installed in {options.ModelStoreDirectory}; waiting for an update");
        _statusPublisher?.Notify();
        _log.LogWarning("No model installed in {Directory}: the agent runs without inference until one is installed", options.ModelStoreDirectory);
        _errors.Add("model", $"no model installed in {options.ModelStoreDirectory}; install one with 'edgeagent bundle install'");
        using var idle = liveness.Register("agent", TimeSpan.FromSeconds(60));
        var first = _updates?.WaitForFirstModelAsync(stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            idle.Beat();
            _feed?.Sync();
            if (first is { IsCompletedSuccessfully: true })
            {
                return first.Result;
            }
            try { await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken); } catch (OperationCanceledException) { }
        }
        return null;
    }

    /// <summary>Serves <paramref name="model"/> until <paramref name="stoppingToken"/>; true when stopped to serve a new model (not a shutdown).</summary>
    private async Task<bool> ServeAsync(InstalledModel model, TelemetryOutbox outbox, CloudTier? cloud, CancellationToken stoppingToken)
    {
        var manifest = model.Manifest;
        using var engine = InferenceEngine.Load(model.ModelPath);
        _engine = engine;
        _updates?.AttachEngine(manifest.Name, engine);
        var sensorOptions = SensorsSection.Bind(options.Sensors ?? throw new SensorConfigurationException(["sensors: missing; the agent needs a sensor source"]));
        await using var source = SensorSourceFactory.Create(sensorOptions);
        await using var outputs = ResultOutputs.Create(options.Outputs, options.DeviceId, _mqtt, _log);
        // The manifest gives the channel count; the source's first channels feed the model in order.
        var spec = new WindowSpec
        {
            Length = manifest.Windowing.Length,
            Hop = manifest.Windowing.Stride,
            Channels = source.Channels.Take(manifest.Windowing.Channels).ToArray(),
        };
        // MODEL@VERSION: the drift key the hub groups fleet sketches by.
        string modelKey = $"{manifest.Name}@{manifest.Version}";
        var reference = manifest.DriftProfile is { } profile ? ReferenceProfileJson.FromDocument(profile) : null;
        var drift = new DriftView(modelKey, reference is not null, metrics);
        _drift = drift;
        var feed = _feed!;
        var pipeline = new InferencePipeline(source, spec, engine, outbox, new InferencePipelineOptions
        {
            Model = modelKey,
            Labels = manifest.Labels,
            Gate = new GateOptions
            {
                ConfidenceThreshold = (float)manifest.ConfidenceThreshold,
                OutOfDistributionThreshold = reference is null ? null : (float?)options.Pipeline.OutOfDistributionThreshold,
            },
            Drift = new DriftMonitorOptions
            {
                SnapshotInterval = options.Pipeline.DriftSnapshotInterval,
                SnapshotEveryWindows = options.Pipeline.DriftSnapshotEveryWindows,
                SnapshotTaken = drift.OnSnapshot,
            },
            CloudWorkers = options.Cloud.Workers,
            CloudQueueCapacity = options.Cloud.QueueCapacity,
            LatencyObserver = feed.Observe,
            InferenceObserver = _updates?.ObserverFor(manifest.Name),
        }, cloud, outputs.Outputs, reference);
        _pipeline = pipeline;
        feed.Attach(modelKey, pipeline.Counters, pipeline.SensorStats);

        // Fed by pipeline progress: a stalled sensor or inference loop stops the watchdog pings, and
        // systemd restarts the service. A window takes Length / rate seconds to fill, so allow several.
        double windowSeconds = manifest.Windowing.SampleRateHz > 0 ? manifest.Windowing.Length / manifest.Windowing.SampleRateHz : 1;
        using var beat = liveness.Register("pipeline", TimeSpan.FromSeconds(Math.Max(30, 5 * windowSeconds)));
        var running = pipeline.RunAsync(stoppingToken);
        _pipelineState = "running";
        status.ReportReady($"serving {manifest.Name} {manifest.Version} from slot {model.Slot}");
        _statusPublisher?.Notify();
        _log.LogInformation("Serving {Model} {Version} from slot {Slot} on {Source}; cloud tier {Cloud}; outputs: {Outputs}",
            manifest.Name, manifest.Version, model.Slot, source.Name, cloud is null ? "off" : cloud.Options.RequestTopic,
            outputs.Outputs.Count == 0 ? "none" : string.Join(", ", outputs.Outputs.Select(o => o.Name)));

        long last = -1;
        string health = "";
        while (!running.IsCompleted)
        {
            long progress = pipeline.Counters.Progress;
            if (progress != last) { beat.Beat(); last = progress; }
            feed.Sync();
            string now = HealthFingerprint();
            if (now != health) { health = now; _statusPublisher?.Notify(); }
            await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None));
        }
        try
        {
            await running;
            _pipelineState = "source-ended";
            return false;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            _pipelineState = "stopped";
            // The serving token is linked to the host's: cancelled alone means "a new model is active".
            return _serving is { } s && s.Token == stoppingToken && !_hostStopping;
        }
        catch (Exception e)
        {
            _pipelineState = "failed";
            _errors.Add("pipeline", e.Message);
            throw;
        }
        finally
        {
            feed.Sync();
            _engine = null;
        }
    }

    private void RegisterControlCommands(TelemetryOutbox outbox)
    {
        control.Register("agent.status", (_, _) => ValueTask.FromResult(StatusJson()));
        control.Register(AgentControlCommands.ModelsList, (_, _) => ValueTask.FromResult(AgentControlCommands.ModelsJson(options.ModelStoreDirectory)));
        control.Register(AgentControlCommands.ModelsShow, (args, _) => ValueTask.FromResult(
            AgentControlCommands.ModelJson(options.ModelStoreDirectory, AgentControlCommands.NameArgument(args), _model, _engine?.Generation)));
        control.Register(AgentControlCommands.TelemetryStats, (_, _) => ValueTask.FromResult(AgentControlCommands.OutboxJson(outbox.GetStatistics())));
        control.Register(AgentControlCommands.DriftShow, (_, _) => ValueTask.FromResult(_drift?.ToJson()
            ?? throw new ControlCommandException(ControlErrorCodes.Failed, "no model is being served, so there is no drift to show",
                "install a model with 'edgeagent bundle install' and restart the agent")));
        control.Register(AgentControlCommands.PredictCommand, (args, _) => ValueTask.FromResult(AgentControlCommands.Predict(_engine, _model, args)));
    }

    /// <summary>The state-like parts of health: a change of any of them republishes the retained status.</summary>
    private string HealthFingerprint() =>
        $"{status.IsReady}|{_pipelineState}|{string.Join(',', liveness.StalledSources())}|{_circuitOpen}|{_drift?.AnyDrifted}|{_updateState}";

    /// <summary>Fields of the retained status (DESIGN.md §5; the hub's DeviceStatusParser reads online, agentVersion, activeModel, updateState, health).</summary>
    private void StatusFields(Utf8JsonWriter w)
    {
        w.WriteBoolean("online", true);
        w.WriteString("deviceId", options.DeviceId);
        w.WriteString("agentVersion", AgentCli.Version);
        if (_outbox is { } o) w.WriteString("bootId", o.BootId);
        if (_model is { } m) w.WriteString("activeModel", $"{m.Manifest.Name}@{m.Manifest.Version}");
        else w.WriteNull("activeModel");
        WriteModel(w);
        w.WriteString("updateState", _updateState);
        w.WriteStartObject("health");
        w.WriteBoolean("ready", status.IsReady);
        w.WriteString("pipeline", _pipelineState);
        w.WriteStartArray("stalled");
        foreach (var s in liveness.StalledSources()) w.WriteStringValue(s);
        w.WriteEndArray();
        w.WriteString("cloudCircuit", _circuitOpen ? "open" : "closed");
        w.WriteBoolean("drifted", _drift?.AnyDrifted ?? false);
        w.WriteEndObject();
    }

    /// <summary><c>"model": {name, version, slot, committed}</c> of the served model, or null.</summary>
    private void WriteModel(Utf8JsonWriter w)
    {
        if (_model is not { } m)
        {
            w.WriteNull("model");
            return;
        }
        w.WriteStartObject("model");
        w.WriteString("name", m.Manifest.Name);
        w.WriteString("version", m.Manifest.Version);
        w.WriteString("slot", m.Slot);
        w.WriteBoolean("committed", m.Committed);
        w.WriteEndObject();
    }

    /// <summary>The first model family in the store with a verified active slot (one family per device today).</summary>
    private static InstalledModel? FindInstalledModel(string modelStore)
    {
        if (!Directory.Exists(modelStore)) return null;
        foreach (string family in Directory.GetDirectories(modelStore).Order(StringComparer.Ordinal))
            if (UpdateManager.OpenActive(family) is { } active) return active;
        return null;
    }

    /// <summary>The persisted update phase of a family (an update interrupted by a restart shows where it stopped).</summary>
    private string ReadUpdatePhase(string modelStore, string family)
    {
        try
        {
            return new UpdateStateStore(Path.Combine(modelStore, family)).ReadRecord()?.Phase.Wire() ?? "idle";
        }
        catch (Exception e) when (e is UpdateStateException or IOException or UnauthorizedAccessException)
        {
            _errors.Add("update", e.Message);
            return "unknown";
        }
    }

    private MqttClient CreateMqttClient()
    {
        var m = options.Mqtt;
        return new MqttClient(new MqttClientOptions
        {
            Endpoint = MqttEndpoint.Tcp(m.Host, m.Port),
            Tls = m.UseTls ? MqttTlsPemFiles.Load(m.CaFile, m.CertFile, m.KeyFile, m.Host) : null,
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

    private JsonElement StatusJson() => AgentControlCommands.Build(w =>
    {
        w.WriteStartObject();
        w.WriteString("deviceId", options.DeviceId);
        w.WriteString("status", status.Current);
        WriteModel(w);
        if (_pipeline is { } p)
        {
            w.WriteStartObject("inference");
            w.WriteNumber("windows", p.Counters.Windows);
            w.WriteNumber("local", p.Counters.Local);
            w.WriteNumber("cloud", p.Counters.Cloud);
            w.WriteNumber("fallback", p.Counters.Fallback);
            w.WriteNumber("fallbackCasesQueued", p.Counters.FallbackCasesQueued);
            w.WriteNumber("telemetryCommitted", p.Counters.TelemetryCommitted);
            w.WriteNumber("badSamples", p.SensorStats.BadTotal);
            w.WriteStartObject("fallbackReasons");
            foreach (var reason in Enum.GetValues<Pipeline.Telemetry.FallbackReason>())
                if (reason != Pipeline.Telemetry.FallbackReason.None && p.Counters.FallbackFor(reason) is > 0 and var n)
                    w.WriteNumber(PipelineMetricsFeed.Wire(reason), n);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        w.WriteString("pipeline", _pipelineState);
        w.WriteString("cloudCircuit", options.Cloud.Enabled && _mqtt is not null ? (_circuitOpen ? "open" : "closed") : "disabled");
        w.WriteString("updateState", _updateState);
        if (_updates is { } u)
        {
            w.WritePropertyName("update");
            u.Status.WriteTo(w);
        }
        w.WriteString("mqtt", _mqtt is null ? "not configured" : _mqtt.State.ToString());
        if (_mqtt is not null) w.WriteString("mqttBroker", $"{options.Mqtt.Host}:{options.Mqtt.Port}");
        if (_statusPublisher is { } sp) w.WriteNumber("statusPublished", sp.Published);
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
