using EdgeAgent.Pipeline.Drift;
using EdgeAgent.Pipeline.Gating;
using EdgeAgent.Sensors.Pipeline;

namespace EdgeAgent.Pipeline.Inference;

/// <summary>Settings of an <see cref="InferencePipeline"/> (most come from the model manifest).</summary>
public sealed record InferencePipelineOptions
{
    /// <summary>Model name (telemetry, drift merge keys, cloud requests).</summary>
    public required string Model { get; init; }
    /// <summary>Output labels in the order of the model's probability output.</summary>
    public required IReadOnlyList<string> Labels { get; init; }
    public GateOptions Gate { get; init; } = new();
    public DriftMonitorOptions Drift { get; init; } = new();
    public SensorPipelineOptions? Sensors { get; init; }

    /// <summary>Results waiting for the outbox writer. Full: telemetry is dropped and counted; fallback cases and drift snapshots wait.</summary>
    public int OutboxQueueCapacity { get; init; } = 4096;
    /// <summary>Results waiting per output. Full: the oldest is dropped and counted.</summary>
    public int OutputQueueCapacity { get; init; } = 256;
    /// <summary>Hard cases waiting for a cloud worker. Full: the case falls back at once (reason <c>cloud-busy</c>).</summary>
    public int CloudQueueCapacity { get; init; } = 32;
    /// <summary>Concurrent cloud requests.</summary>
    public int CloudWorkers { get; init; } = 4;
    /// <summary>Events the outbox writer stage hands over before waiting for their commit (group commit).</summary>
    public int OutboxBatch { get; init; } = 512;

    /// <summary>
    /// Sees every local inference (the update loop's model health monitor). Called on the inference loop, once per
    /// window, with spans that are only valid during the call: keep it cheap, thread-safe and allocation-free.
    /// </summary>
    public IInferenceObserver? InferenceObserver { get; init; }

    /// <summary>Latency hook for a histogram. Called on the inference loop, a cloud worker or the outbox stage: keep it cheap and thread-safe.</summary>
    public Action<LatencySample>? LatencyObserver { get; init; }

    public IReadOnlyList<string> Validate(string prefix = "pipeline")
    {
        var problems = new List<string>(Gate.Validate($"{prefix}.gate"));
        if (string.IsNullOrWhiteSpace(Model)) problems.Add($"{prefix}.model: required");
        if (Labels.Count == 0) problems.Add($"{prefix}.labels: at least one label is required");
        if (OutboxQueueCapacity < 1) problems.Add($"{prefix}.outboxQueueCapacity: must be at least 1");
        if (OutputQueueCapacity < 1) problems.Add($"{prefix}.outputQueueCapacity: must be at least 1");
        if (CloudQueueCapacity < 1) problems.Add($"{prefix}.cloudQueueCapacity: must be at least 1");
        if (CloudWorkers < 1) problems.Add($"{prefix}.cloudWorkers: must be at least 1");
        if (OutboxBatch < 1) problems.Add($"{prefix}.outboxBatch: must be at least 1");
        if (Drift.SnapshotInterval <= TimeSpan.Zero) problems.Add($"{prefix}.drift.snapshotInterval: must be positive");
        if (Drift.SnapshotEveryWindows is < 1) problems.Add($"{prefix}.drift.snapshotEveryWindows: must be at least 1");
        return problems;
    }
}

/// <summary>
/// Per-inference hook of <see cref="InferencePipeline"/> (model health for updates, DESIGN §6 "observing").
/// </summary>
/// <remarks>Both methods run on the inference loop and must not block; the spans are the pipeline's own buffers,
/// valid only during the call (copy what must outlive it).</remarks>
public interface IInferenceObserver
{
    /// <summary>One successful inference: the model input window, its output probabilities and the ORT run time.</summary>
    void OnInference(ReadOnlySpan<float> input, ReadOnlySpan<float> probabilities, TimeSpan latency);

    /// <summary>
    /// The model failed on a window. Return true to drop that window and keep running (a model on trial
    /// whose failures the observer judges, e.g. to roll it back), false to stop the pipeline with the error
    /// as it does without an observer.
    /// </summary>
    bool OnInferenceFailed(Exception error);
}

/// <summary>The pipeline cannot run with this model/spec/options combination; the message lists every problem.</summary>
public sealed class PipelineConfigurationException(IReadOnlyList<string> problems)
    : Exception("inference pipeline configuration is invalid: " + string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
