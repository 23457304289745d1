namespace EdgeAgent.Onnx;

/// <summary>ORT graph optimization levels (<c>GraphOptimizationLevel</c>).</summary>
public enum OnnxOptimizationLevel
{
    DisableAll = 0,
    Basic = 1,
    Extended = 2,
    All = 99,
}

/// <summary>
/// How a session is created. The defaults suit a small device running one small model: one intra-op
/// thread (the calling thread does the work, no pool wake-ups), no spinning (idle threads would burn a core
/// between sensor windows; DESIGN.md §4), all graph optimizations (QDQ fusion into QLinear kernels),
/// memory arena on.
/// </summary>
public sealed record OnnxSessionOptions
{
    public static OnnxSessionOptions Default { get; } = new();

    /// <summary>Threads inside one operator (0 = ORT's default, one per core). With an explicit count the
    /// calling thread counts as one of them and ORT sets no affinity.</summary>
    public int IntraOpThreads { get; init; } = 1;

    /// <summary>Threads across independent graph branches; only used with <see cref="ParallelExecution"/>.</summary>
    public int InterOpThreads { get; init; } = 1;

    /// <summary>Run independent branches in parallel (ORT_PARALLEL) instead of sequentially.</summary>
    public bool ParallelExecution { get; init; }

    public OnnxOptimizationLevel OptimizationLevel { get; init; } = OnnxOptimizationLevel.All;

    /// <summary>Let ORT's pool threads spin while waiting for work (<c>session.intra_op.allow_spinning</c> and
    /// <c>session.inter_op.allow_spinning</c>). Off by default: spinning trades a busy core for latency.</summary>
    public bool AllowSpinning { get; init; }

    /// <summary>ORT's CPU memory arena: faster allocation of intermediate tensors, but memory is kept.</summary>
    public bool EnableCpuMemArena { get; init; } = true;

    /// <summary>When set, ORT writes the optimized graph here at session creation. Only valid on the same
    /// kind of hardware (layouts may depend on AVX2 etc.).</summary>
    public string? OptimizedModelPath { get; init; }

    /// <summary>ORT log severity for this session: 0 verbose, 1 info, 2 warning, 3 error (default), 4 fatal.</summary>
    public int LogSeverity { get; init; } = 3;

    /// <summary>Extra <c>AddSessionConfigEntry</c> key/value pairs (onnxruntime_session_options_config_keys.h),
    /// applied last so they can override the entries above.</summary>
    public IReadOnlyDictionary<string, string>? ConfigEntries { get; init; }
}
