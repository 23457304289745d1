namespace EdgeAgent.Pipeline.Cloud;

/// <summary>
/// Body of a cloud-tier request (schema <c>edgeagent.infer.request/1</c>), published on
/// <c>edgeagent/v1/{deviceId}/infer/req</c> with MQTT 5 Response Topic <c>edgeagent/v1/{deviceId}/infer/res</c>
/// and random Correlation Data (MQTT 5 §4.10). The hub answers with a <see cref="CloudInferenceResponse"/>
/// on the response topic carrying the same Correlation Data. See the library README for the full contract.
/// </summary>
public sealed record CloudInferenceRequest
{
    public string Schema { get; init; } = "edgeagent.infer.request/1";
    public required string DeviceId { get; init; }
    public required string Model { get; init; }
    public long Generation { get; init; }
    public long Window { get; init; }
    public DateTimeOffset WindowEnd { get; init; }
    /// <summary><c>low-confidence</c> or <c>out-of-distribution</c>.</summary>
    public required string Reason { get; init; }
    /// <summary>Tensor shape of <see cref="Input"/>, e.g. [1,3,128].</summary>
    public required long[] Shape { get; init; }
    /// <summary><c>channels-first</c> ([channels, samples]) or <c>samples-first</c>.</summary>
    public required string Layout { get; init; }
    public required IReadOnlyList<string> Channels { get; init; }
    /// <summary>Labels of the device model, in output order (the hub answers with one of them or its own).</summary>
    public required IReadOnlyList<string> Labels { get; init; }
    /// <summary>Model input, flattened row-major in <see cref="Layout"/>, normalized as the model expects.</summary>
    public required float[] Input { get; init; }
    public required string LocalLabel { get; init; }
    public float LocalConfidence { get; init; }
    public required float[] LocalProbabilities { get; init; }
    /// <summary>Milliseconds the device waits for an answer; later answers are ignored.</summary>
    public int DeadlineMs { get; init; }
}

/// <summary>Body of a cloud-tier answer (schema <c>edgeagent.infer.response/1</c>).</summary>
/// <remarks>Either <see cref="Label"/> with <see cref="Confidence"/> in [0, 1], or <see cref="Error"/>; a response
/// with neither (or both) is malformed and counts as a cloud failure.</remarks>
public sealed record CloudInferenceResponse
{
    public string Schema { get; init; } = "edgeagent.infer.response/1";
    public string? Label { get; init; }
    public float Confidence { get; init; }
    /// <summary>Name/version of the model that answered (diagnostics).</summary>
    public string? Model { get; init; }
    /// <summary>The hub could not answer (e.g. "model unknown"); the device keeps its local answer.</summary>
    public string? Error { get; init; }
}

/// <summary>The cloud answered with something the device cannot use (malformed JSON, wrong schema, an error field).</summary>
public sealed class CloudTierResponseException(string message, Exception? inner = null) : Exception(message, inner);
