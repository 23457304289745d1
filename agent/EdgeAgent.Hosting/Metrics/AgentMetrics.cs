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
        Inferences = registry.CreateCounter("edgeagent_inferences_total",
            "Windows decided, per model and outcome: local (confident on-device answer), cloud (cloud tier answered), fallback (hard case kept its local answer and was queued).", "model", "outcome");
        CommitLatency = registry.CreateHistogram("edgeagent_result_commit_latency_seconds",
            "Time from a complete window to its result committed in the outbox, per model.", Histogram.LatencySecondsBuckets, "model");
        FallbackRate = registry.CreateGauge("edgeagent_fallback_rate", "Fraction of decided windows that fell back to the local answer since start, per model.", "model");
        Fallbacks = registry.CreateCounter("edgeagent_fallbacks_total", "Hard cases that kept the local answer, per reason (timeout, offline, circuit-open, rate-limited, ...).", "reason");
        CloudCircuitOpen = registry.CreateGauge("edgeagent_cloud_circuit_open", "1 while the cloud tier's circuit breaker is open (requests are not sent).");
        BadSamples = registry.CreateCounter("edgeagent_bad_samples_total", "Sensor samples rejected, per reason (nan, length, parse).", "reason");
        OutboxDepth = registry.CreateGauge("edgeagent_outbox_depth", "Records waiting in the outbox.");
        OutboxBytes = registry.CreateGauge("edgeagent_outbox_bytes", "Bytes used by the outbox database.");
        OutboxDrops = registry.CreateCounter("edgeagent_outbox_drops_total", "Records dropped by the outbox, per reason (budget, expired, poison).", "reason");
        MqttConnected = registry.CreateGauge("edgeagent_mqtt_connected", "1 while the MQTT session is connected.");
        MqttReconnects = registry.CreateCounter("edgeagent_mqtt_reconnects_total", "MQTT reconnect attempts.");
        UpdateState = registry.CreateGauge("edgeagent_update_state", "1 for the model update state the agent is in, per state.", "state");
        DriftScore = registry.CreateGauge("edgeagent_drift_score",
            "Drift of each input feature against the model's reference profile at the last snapshot, per statistic (psi, ks, w1 = normalized Wasserstein-1; 0 = no drift).", "model", "feature", "statistic");
        long start = time.GetUtcNow().ToUnixTimeSeconds();
        registry.CreateCallbackGauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", () => start);
        registry.CreateCallbackGauge("process_resident_memory_bytes", "Resident memory size in bytes.", () => Environment.WorkingSet);
    }

    public MetricsRegistry Registry { get; }
    public MetricFamily<Histogram> InferenceLatency { get; }
    public MetricFamily<Counter> Inferences { get; }
    public MetricFamily<Histogram> CommitLatency { get; }
    public MetricFamily<Gauge> FallbackRate { get; }
    public MetricFamily<Counter> Fallbacks { get; }
    public Gauge CloudCircuitOpen { get; }
    public MetricFamily<Counter> BadSamples { get; }
    public Gauge OutboxDepth { get; }
    public Gauge OutboxBytes { get; }
    public MetricFamily<Counter> OutboxDrops { get; }
    public Gauge MqttConnected { get; }
    public Counter MqttReconnects { get; }
    public MetricFamily<Gauge> UpdateState { get; }
    public MetricFamily<Gauge> DriftScore { get; }
}
