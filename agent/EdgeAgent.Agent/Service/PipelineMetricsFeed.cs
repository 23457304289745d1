using EdgeAgent.Hosting.Metrics;
using EdgeAgent.Mqtt;
using EdgeAgent.Outbox.Queue;
using EdgeAgent.Pipeline.Inference;
using EdgeAgent.Pipeline.Telemetry;
using EdgeAgent.Sensors.Sampling;

namespace EdgeAgent.Agent.Service;

/// <summary>
/// Feeds the Prometheus families of <see cref="AgentMetrics"/> from the running agent (issue 6): latency
/// histograms from the pipeline's latency hook (<see cref="Observe"/>, on the hot path: lock-free, no
/// allocation), and everything else by mirroring the components' own counters in <see cref="Sync"/> (called
/// about once a second), so no component needs to know about Prometheus.
/// </summary>
/// <remarks>
/// Outcomes of <c>edgeagent_inferences_total</c>: <c>local</c>, <c>cloud</c>, <c>fallback</c>, and <c>bad</c> for
/// sensor samples rejected before they could reach a window. Thread-safe: <see cref="Observe"/> from any
/// thread; <see cref="Sync"/> from one thread at a time.
/// </remarks>
internal sealed class PipelineMetricsFeed
{
    private static readonly FallbackReason[] Reasons = [.. Enum.GetValues<FallbackReason>().Where(r => r != FallbackReason.None)];
    private static readonly BadSampleReason[] BadReasons = Enum.GetValues<BadSampleReason>();

    private readonly AgentMetrics _metrics;
    private readonly TelemetryOutbox _outbox;
    private readonly MqttClient? _mqtt;
    private readonly Lock _syncGate = new();
    private readonly Dictionary<object, double> _mirrored = new(ReferenceEqualityComparer.Instance);
    private long _lastOutboxSync = long.MinValue;
    private string _updateState = "idle";
    private Source? _source;

    private sealed record Source(string Model, PipelineCounters Counters, SensorStats Sensors, Histogram Decided, Histogram Committed,
        Counter Local, Counter Cloud, Counter Fallback, Counter Bad, Gauge FallbackRate);

    public PipelineMetricsFeed(AgentMetrics metrics, TelemetryOutbox outbox, MqttClient? mqtt)
    {
        _metrics = metrics;
        _outbox = outbox;
        _mqtt = mqtt;
        if (mqtt is not null)
            mqtt.ConnectionStateChanged += (_, e) =>
            {
                metrics.MqttConnected.Set(e.State == MqttConnectionState.Connected ? 1 : 0);
                if (e.State == MqttConnectionState.Reconnecting) metrics.MqttReconnects.Inc();
            };
        SetUpdateState("idle");
    }

    /// <summary>Starts mirroring a pipeline (one at a time; a hot swap of the model keeps the same pipeline).</summary>
    public void Attach(string model, PipelineCounters counters, SensorStats sensors)
    {
        var m = _metrics;
        _source = new Source(model, counters, sensors, m.InferenceLatency.WithLabels(model), m.CommitLatency.WithLabels(model),
            m.Inferences.WithLabels(model, "local"), m.Inferences.WithLabels(model, "cloud"), m.Inferences.WithLabels(model, "fallback"),
            m.Inferences.WithLabels(model, "bad"), m.FallbackRate.WithLabels(model));
    }

    /// <summary>The pipeline's latency hook.</summary>
    public void Observe(LatencySample sample)
    {
        if (_source is not { } s) return;
        (sample.Stage == LatencyStage.Decided ? s.Decided : s.Committed).Observe(sample.Elapsed);
    }

    /// <summary>Sets <c>edgeagent_update_state{state}</c>: 1 for <paramref name="state"/>, 0 for the others seen.</summary>
    public void SetUpdateState(string state)
    {
        lock (_syncGate)
        {
            _metrics.UpdateState.WithLabels(_updateState).Set(0);
            _updateState = state;
            _metrics.UpdateState.WithLabels(state).Set(1);
        }
    }

    public void SetCircuitOpen(bool open) => _metrics.CloudCircuitOpen.Set(open ? 1 : 0);

    /// <summary>Copies the components' counters into the metrics. Outbox statistics (a database query) at most every 2 s.</summary>
    public void Sync()
    {
        lock (_syncGate)
        {
            if (_mqtt is not null) _metrics.MqttConnected.Set(_mqtt.State == MqttConnectionState.Connected ? 1 : 0);
            if (_source is { } s)
            {
                var c = s.Counters;
                Mirror(s.Local, c.Local);
                Mirror(s.Cloud, c.Cloud);
                Mirror(s.Fallback, c.Fallback);
                Mirror(s.Bad, s.Sensors.BadTotal);
                long decided = c.Local + c.Cloud + c.Fallback;
                s.FallbackRate.Set(decided == 0 ? 0 : (double)c.Fallback / decided);
                foreach (var reason in Reasons)
                    Mirror(_metrics.Fallbacks.WithLabels(Wire(reason)), c.FallbackFor(reason));
                foreach (var reason in BadReasons)
                    Mirror(_metrics.BadSamples.WithLabels(reason.ToString()), s.Sensors.Bad(reason));
            }
            long now = Environment.TickCount64;
            if (now - _lastOutboxSync < 2000) return;
            _lastOutboxSync = now;
            var stats = _outbox.GetStatistics();
            _metrics.OutboxDepth.Set(stats.PendingEvents.Values.Sum());
            _metrics.OutboxBytes.Set(stats.DatabaseFileBytes + stats.WalFileBytes);
            Mirror(_metrics.OutboxDrops.WithLabels("budget"), stats.DroppedEvents);
            Mirror(_metrics.OutboxDrops.WithLabels("rejected"), stats.RejectedAppends);
        }
    }

    // Counters only go up: add what the source counted since the last sync.
    private void Mirror(Counter counter, double total)
    {
        double seen = _mirrored.GetValueOrDefault(counter);
        if (total > seen) counter.Inc(total - seen);
        _mirrored[counter] = Math.Max(seen, total);
    }

    /// <summary>The kebab-case wire name of a fallback reason (as in telemetry).</summary>
    internal static string Wire(FallbackReason reason) => reason switch
    {
        FallbackReason.CloudDisabled => "cloud-disabled",
        FallbackReason.RateLimited => "rate-limited",
        FallbackReason.DailyBudgetExhausted => "daily-budget-exhausted",
        FallbackReason.CloudBusy => "cloud-busy",
        FallbackReason.CircuitOpen => "circuit-open",
        FallbackReason.CloudError => "cloud-error",
        _ => reason.ToString().ToLowerInvariant(),
    };
}
