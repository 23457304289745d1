using System.Text.Json.Serialization;

namespace EdgeAgent.Pipeline.Telemetry;

/// <summary>Who decided the answer of a window.</summary>
public enum DecidedBy
{
    /// <summary>The on-device model was confident (and the window in distribution).</summary>
    [JsonStringEnumMemberName("local")] Local,
    /// <summary>The cloud tier answered in time; its answer is used.</summary>
    [JsonStringEnumMemberName("cloud")] Cloud,
    /// <summary>The window needed the cloud tier but did not get an answer; the local answer stands and the case was queued.</summary>
    [JsonStringEnumMemberName("fallback")] Fallback,
}

/// <summary>Why the gate sent a window towards the cloud tier.</summary>
public enum EscalationReason
{
    /// <summary>Not escalated.</summary>
    [JsonStringEnumMemberName("none")] None,
    /// <summary>Top-class probability below <c>GateOptions.ConfidenceThreshold</c>.</summary>
    [JsonStringEnumMemberName("low-confidence")] LowConfidence,
    /// <summary>Out-of-distribution score at or above <c>GateOptions.OutOfDistributionThreshold</c>.</summary>
    [JsonStringEnumMemberName("out-of-distribution")] OutOfDistribution,
}

/// <summary>Why an escalated window kept its local answer.</summary>
public enum FallbackReason
{
    /// <summary>Not a fallback.</summary>
    [JsonStringEnumMemberName("none")] None,
    /// <summary>No cloud tier is configured.</summary>
    [JsonStringEnumMemberName("cloud-disabled")] CloudDisabled,
    /// <summary>The token bucket (requests per second) had no token.</summary>
    [JsonStringEnumMemberName("rate-limited")] RateLimited,
    /// <summary>The daily request budget is used up.</summary>
    [JsonStringEnumMemberName("daily-budget-exhausted")] DailyBudgetExhausted,
    /// <summary>The queue in front of the cloud workers was full (more hard cases than the workers can carry).</summary>
    [JsonStringEnumMemberName("cloud-busy")] CloudBusy,
    /// <summary>The MQTT client is not connected (offline).</summary>
    [JsonStringEnumMemberName("offline")] Offline,
    /// <summary>No answer within the request timeout.</summary>
    [JsonStringEnumMemberName("timeout")] Timeout,
    /// <summary>The circuit breaker is open: recent requests failed, none is sent until it half-opens.</summary>
    [JsonStringEnumMemberName("circuit-open")] CircuitOpen,
    /// <summary>The broker refused the request or the answer was malformed.</summary>
    [JsonStringEnumMemberName("cloud-error")] CloudError,
}

/// <summary>
/// One window's outcome. Sent to outputs (JSON Lines / MQTT) as is and to the outbox telemetry stream.
/// </summary>
/// <remarks>Immutable; shared between outputs and the outbox writer.</remarks>
public sealed record PipelineResult
{
    /// <summary>Model name from the manifest.</summary>
    public required string Model { get; init; }
    /// <summary><c>InferenceEngine.Generation</c> when the window ran (changes on a hot swap).</summary>
    public long Generation { get; init; }
    /// <summary>Window sequence number from the windower.</summary>
    public long Window { get; init; }
    /// <summary>Wall-clock time of the window's newest sample.</summary>
    public DateTimeOffset WindowEnd { get; init; }
    /// <summary>Answer used: the cloud's when <see cref="DecidedBy"/> is Cloud, else the local one.</summary>
    public required string Label { get; init; }
    public float Confidence { get; init; }
    public DecidedBy DecidedBy { get; init; }
    public EscalationReason Escalation { get; init; }
    public FallbackReason FallbackReason { get; init; }
    /// <summary>The on-device answer (equal to Label unless the cloud answered).</summary>
    public required string LocalLabel { get; init; }
    public float LocalConfidence { get; init; }
    /// <summary>Out-of-distribution score of the window (0 without a reference profile).</summary>
    public float OodScore { get; init; }
    /// <summary>Time inside the ONNX Runtime call, microseconds.</summary>
    public long InferenceUs { get; init; }
    /// <summary>Time from window completion (its last sample entering the windower) to the decision, microseconds.</summary>
    public long LatencyUs { get; init; }
    /// <summary>Cloud model that answered (Cloud only).</summary>
    public string? CloudModel { get; init; }

    /// <summary>Monotonic timestamp (<see cref="TimeProvider.GetTimestamp"/>) of window completion; not serialized.</summary>
    [JsonIgnore] public long WindowReadyTimestamp { get; init; }
    /// <summary>The window (model input) and local probabilities of a fallback case; not part of telemetry.</summary>
    [JsonIgnore] internal FallbackCase? Case { get; init; }
}

/// <summary>
/// A hard case the cloud tier did not answer, queued in the outbox (stream <c>fallback-case</c>) for later
/// labeling: the model input window, the local answer and why the cloud was not used.
/// Schema <c>edgeagent.fallback-case/1</c>.
/// </summary>
public sealed record FallbackCase
{
    public string Schema { get; init; } = "edgeagent.fallback-case/1";
    public required string Model { get; init; }
    public long Generation { get; init; }
    public long Window { get; init; }
    public DateTimeOffset WindowEnd { get; init; }
    public EscalationReason Escalation { get; init; }
    public FallbackReason Reason { get; init; }
    public required string LocalLabel { get; init; }
    public float LocalConfidence { get; init; }
    public required float[] Probabilities { get; init; }
    public float OodScore { get; init; }
    public required long[] Shape { get; init; }
    public required string Layout { get; init; }
    public required IReadOnlyList<string> Channels { get; init; }
    /// <summary>The model input exactly as the model saw it (normalized per the window spec).</summary>
    public required float[] Input { get; init; }
}

/// <summary>
/// One feature's drift window, appended to the outbox stream <c>drift</c>. Schema <c>edgeagent.drift.window/1</c>.
/// <see cref="Kll"/> is an Apache DataSketches KLL float sketch (compact binary, base64).
/// </summary>
public sealed record DriftWindowSnapshot
{
    public string Schema { get; init; } = "edgeagent.drift.window/1";
    public required string Model { get; init; }
    public required string Feature { get; init; }
    public DateTimeOffset WindowStart { get; init; }
    public DateTimeOffset WindowEnd { get; init; }
    public long Count { get; init; }
    public double Mean { get; init; }
    public double M2 { get; init; }
    public double StdDev { get; init; }
    public long NaN { get; init; }
    public long PositiveInfinity { get; init; }
    public long NegativeInfinity { get; init; }
    public int K { get; init; }
    public required string Kll { get; init; }
    /// <summary>Scores against the model's reference profile (null without one).</summary>
    public DriftScore? Score { get; init; }
}

/// <summary>Drift of one feature against the reference profile.</summary>
public sealed record DriftScore(double Psi, string PsiBand, double Ks, bool KsRejects, double NormalizedW1, bool SufficientData, bool Drifted);

/// <summary>Source-generated JSON for everything the pipeline writes or reads (AOT: no reflection).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, NumberHandling = JsonNumberHandling.Strict)]
[JsonSerializable(typeof(PipelineResult))]
[JsonSerializable(typeof(FallbackCase))]
[JsonSerializable(typeof(DriftWindowSnapshot))]
[JsonSerializable(typeof(Cloud.CloudInferenceRequest))]
[JsonSerializable(typeof(Cloud.CloudInferenceResponse))]
public sealed partial class PipelineJsonContext : JsonSerializerContext;
