using EdgeAgent.Agent.Telemetry;
using EdgeAgent.Mqtt;
using EdgeAgent.Mqtt.Packets;
using EdgeAgent.Onnx;
using EdgeAgent.Outbox.Drain;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Pipeline.Drift;
using EdgeAgent.Pipeline.Inference;
using EdgeAgent.Sensors.Synthetic;
using EdgeAgent.Telemetry.Wire;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.FleetSim.Devices;

/// <summary>Everything one simulated device needs that is not its own.</summary>
/// <param name="BrokerHost">Mosquitto host.</param>
/// <param name="BrokerPort">Mosquitto plain TCP port.</param>
/// <param name="Model">The model the device serves (engine shared per process unless <see cref="FleetModel.EnginePerDevice"/>).</param>
/// <param name="SampleRateHz">Synthetic accelerometer rate.</param>
/// <param name="DriftSnapshotInterval">How often the pipeline writes drift sketches.</param>
/// <param name="OutboxBudgetBytes">Per-device outbox disk budget.</param>
public sealed record DeviceEnvironment(string BrokerHost, int BrokerPort, FleetModel Model, double SampleRateHz,
    TimeSpan DriftSnapshotInterval, long OutboxBudgetBytes, ILoggerFactory Loggers);

/// <summary>
/// One real agent instance, composed the way <c>AgentService</c> composes it: its own SQLite outbox
/// (own directory, own bootId), its own MQTT connection (client id = device id, Last Will on its status
/// topic), the outbox drainer over <see cref="MqttTelemetryTransport"/>, and the inference pipeline fed by
/// a seeded synthetic accelerometer, and its own update-state directory. Only the ONNX Runtime session may be shared with other devices of the
/// same process (see <see cref="FleetModel"/>); each device still rents its own engine lease (own buffers).
/// </summary>
/// <remarks>
/// Lifecycle: <see cref="StartAsync"/> → <see cref="StopSensingAsync"/> (the pipeline ends, the drainer keeps
/// going) → <see cref="WaitDrainedAsync"/> → <see cref="DisposeAsync"/>. Not thread-safe; one owner (the worker).
/// </remarks>
public sealed class SimulatedDevice : IAsyncDisposable
{
    private readonly DeviceEnvironment _env;
    private readonly CancellationTokenSource _sensing = new();
    private readonly CancellationTokenSource _draining = new();
    private TelemetryOutbox? _outbox;
    private MqttClient? _mqtt;
    private InferenceEngine? _ownEngine;
    private Task? _pipelineRun;
    private Task? _drainRun;
    private InferencePipeline? _pipeline;

    public SimulatedDevice(string id, int index, string stateDirectory, DeviceEnvironment env)
    {
        Id = id;
        Index = index;
        StateDirectory = stateDirectory;
        _env = env;
        Commits = new CommitLog(TimeProvider.System);
    }

    public string Id { get; }
    public int Index { get; }
    public string StateDirectory { get; }

    /// <summary>Directory of this device's update state machine (one <c>UpdateManager</c> family directory per model family).</summary>
    public string UpdatesDirectory => Path.Combine(StateDirectory, "models");

    public CommitLog Commits { get; }
    public string BootId => _outbox?.BootId ?? "";
    public MqttClient Mqtt => _mqtt ?? throw new InvalidOperationException($"{Id} is not started");
    public TelemetryOutbox Outbox => _outbox ?? throw new InvalidOperationException($"{Id} is not started");
    public PipelineCounters? Counters => _pipeline?.Counters;

    /// <summary>Opens the outbox, connects MQTT (one attempt; the client reconnects by itself later), starts drainer and pipeline.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(StateDirectory);
        Directory.CreateDirectory(UpdatesDirectory);
        _outbox = await TelemetryOutbox.OpenAsync(new OutboxOptions
        {
            DatabasePath = Path.Combine(StateDirectory, "outbox.db"),
            BudgetBytes = _env.OutboxBudgetBytes,
        }, new DriftSnapshotMerger(), logger: _env.Loggers.CreateLogger<TelemetryOutbox>()).ConfigureAwait(false);
        _outbox.Committed += r => Commits.Record(r.BootId, r.FirstSeq, r.LastSeq, r.DroppedOnAppend);

        _mqtt = new MqttClient(new MqttClientOptions
        {
            Endpoint = MqttEndpoint.Tcp(_env.BrokerHost, _env.BrokerPort),
            ClientId = Id,
            KeepAlive = TimeSpan.FromSeconds(60),
            // As the agent: the outbox is the durable queue, publishes fail fast while offline.
            OfflinePolicy = MqttOfflinePublishPolicy.FailFast,
            ConnectTimeout = TimeSpan.FromSeconds(30),
            Will = new MqttApplicationMessage
            {
                Topic = $"edgeagent/v1/{Id}/status",
                Payload = """{"online":false}"""u8.ToArray(),
                Retain = true,
                QoS = MqttQualityOfService.AtLeastOnce,
                ContentType = "application/json",
            },
        });
        await _mqtt.ConnectAsync(cancellationToken).ConfigureAwait(false);
        var drainer = new OutboxDrainer(_outbox, new MqttTelemetryTransport(_mqtt), new DrainerOptions { DeviceId = Id },
            logger: _env.Loggers.CreateLogger<OutboxDrainer>());
        _drainRun = drainer.RunAsync(_draining.Token);

        var model = _env.Model;
        InferenceEngine engine = model.SharedEngine ?? (_ownEngine = model.LoadEngine());
        var source = new SyntheticSource(new SyntheticSettings { Seed = (ulong)Index + 1, RateHz = _env.SampleRateHz });
        _pipeline = new InferencePipeline(source, model.Window, engine, _outbox, new InferencePipelineOptions
        {
            Model = model.ModelKey,
            Labels = model.Labels,
            Drift = new DriftMonitorOptions { SnapshotInterval = _env.DriftSnapshotInterval },
        });
        _pipelineRun = Task.Run(() => _pipeline.RunAsync(_sensing.Token), CancellationToken.None);
    }

    /// <summary>Ends the sensor and inference side; what the outbox committed stays and keeps draining.</summary>
    public async Task StopSensingAsync()
    {
        await _sensing.CancelAsync().ConfigureAwait(false);
        if (_pipelineRun is { } run)
        {
            try { await run.ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
        if (_outbox is { } o) await o.FlushAsync(CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Events committed but not yet acknowledged by the broker (one indexed count; call after sensing stopped).</summary>
    public long PendingEvents() => _outbox?.GetStatistics().PendingEvents.Values.Sum() ?? 0;

    /// <summary>Waits until the drainer delivered everything (true) or <paramref name="timeout"/> passed (false).</summary>
    public async Task<bool> WaitDrainedAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (PendingEvents() > 0)
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        await _sensing.CancelAsync().ConfigureAwait(false);
        await _draining.CancelAsync().ConfigureAwait(false);
        foreach (var t in new[] { _pipelineRun, _drainRun })
        {
            if (t is null) continue;
            try { await t.ConfigureAwait(false); }
            catch (OperationCanceledException) { }
        }
        if (_mqtt is { } m)
        {
            // A clean DISCONNECT: the broker discards the Will, as when the agent stops normally.
            try { await m.DisconnectAsync().ConfigureAwait(false); }
            catch (Exception e) when (e is MqttClientNotConnectedException or MqttConnectionLostException or IOException or OperationCanceledException)
            {
                // Already offline: nothing to say goodbye to.
            }
            await m.DisposeAsync().ConfigureAwait(false);
        }
        if (_outbox is { } o) await o.DisposeAsync().ConfigureAwait(false);
        _ownEngine?.Dispose();
        _sensing.Dispose();
        _draining.Dispose();
    }
}
