namespace EdgeAgent.Hosting.Metrics;

/// <summary>
/// The metric names DESIGN §9 promises operators, created once so every component uses the same names
/// and labels. Components take this from DI and update the children they cache at start.
/// </summary>
public sealed class AgentMetrics
{
    public AgentMetrics(MetricsRegistry registry, TimeProvider time)
    {
        Registry = registry;
        InferenceLatency = registry.CreateHistogram("edgeagent_inference_latency_seconds",
            "Time from a complete window to a prediction, per model.", Histogram.LatencySecondsBuckets, "model");
        Inferences = registry.CreateCounter("edgeagent_inferences_total", "Predictions made, per model and outcome (confident, escalated, failed).", "model", "outcome");
        BadSamples = registry.CreateCounter("edgeagent_bad_samples_total", "Sensor samples rejected, per reason (nan, length, parse).", "reason");
        OutboxDepth = registry.CreateGauge("edgeagent_outbox_depth", "Records waiting in the outbox.");
        OutboxBytes = registry.CreateGauge("edgeagent_outbox_bytes", "Bytes used by the outbox database.");
        OutboxDrops = registry.CreateCounter("edgeagent_outbox_drops_total", "Records dropped by the outbox, per reason (budget, expired, poison).", "reason");
        MqttConnected = registry.CreateGauge("edgeagent_mqtt_connected", "1 while the MQTT session is connected.");
        MqttReconnects = registry.CreateCounter("edgeagent_mqtt_reconnects_total", "MQTT reconnect attempts.");
        UpdateState = registry.CreateGauge("edgeagent_update_state", "1 for the model update state the agent is in, per state.", "state");
        DriftScore = registry.CreateGauge("edgeagent_drift_score", "Latest drift score per model and feature (0 = no drift).", "model", "feature");
        long start = time.GetUtcNow().ToUnixTimeSeconds();
        registry.CreateCallbackGauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", () => start);
        registry.CreateCallbackGauge("process_resident_memory_bytes", "Resident memory size in bytes.", () => Environment.WorkingSet);
    }

    public MetricsRegistry Registry { get; }
    public MetricFamily<Histogram> InferenceLatency { get; }
    public MetricFamily<Counter> Inferences { get; }
    public MetricFamily<Counter> BadSamples { get; }
    public Gauge OutboxDepth { get; }
    public Gauge OutboxBytes { get; }
    public MetricFamily<Counter> OutboxDrops { get; }
    public Gauge MqttConnected { get; }
    public Counter MqttReconnects { get; }
    public MetricFamily<Gauge> UpdateState { get; }
    public MetricFamily<Gauge> DriftScore { get; }
}
