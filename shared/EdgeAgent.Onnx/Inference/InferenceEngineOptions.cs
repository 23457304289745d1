namespace EdgeAgent.Onnx;

/// <summary>How an <see cref="InferenceEngine"/> binds a model's inputs to fixed buffers.</summary>
public sealed record InferenceEngineOptions
{
    public static InferenceEngineOptions Default { get; } = new();

    /// <summary>Concrete shapes for inputs that have dynamic dimensions, by input name (e.g. <c>x → [1,64]</c>).
    /// Each must fit the model's declared shape.</summary>
    public IReadOnlyDictionary<string, long[]>? InputShapes { get; init; }

    /// <summary>Value used for every dynamic dimension not covered by <see cref="InputShapes"/> (typically 1 for a
    /// batch dimension). Null (default): a dynamic input without an entry in <see cref="InputShapes"/> is an error,
    /// because guessing a feature length would silently feed the model the wrong window.</summary>
    public long? DynamicDimensionValue { get; init; }

    /// <summary>Idle leases kept for reuse by <see cref="InferenceEngine.Rent"/> (default 16). Leases returned
    /// beyond this are released.</summary>
    public int MaxPooledLeases { get; init; } = 16;

    /// <summary>Run each model once (inputs filled with ones) before it serves calls: at creation and before
    /// a swap switches over. Surfaces models that load but cannot run, and pays ORT's first-run cost off the
    /// hot path. Default true.</summary>
    public bool WarmUp { get; init; } = true;
}

/// <summary>Outcome of <see cref="InferenceEngine.Swap"/>.</summary>
/// <param name="PreviousGeneration">Generation number of the model that was replaced.</param>
/// <param name="Generation">Generation number of the model now serving.</param>
/// <param name="ContractChanged">True when the new model's inputs/outputs differ (the caller accepted it): leases
/// rented before the swap now throw <see cref="ModelContractException"/> and must be replaced.</param>
/// <param name="PreviousSource">Source of the replaced model.</param>
/// <param name="PreviousReleased">Completes when the last call still running on the replaced model has returned and
/// its native session has been released.</param>
public sealed record ModelSwapResult(long PreviousGeneration, long Generation, bool ContractChanged, string PreviousSource, Task PreviousReleased);
