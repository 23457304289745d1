using EdgeAgent.Pipeline.Telemetry;

namespace EdgeAgent.Pipeline.Gating;

/// <summary>Thresholds of the <see cref="ConfidenceGate"/> (from the model manifest's confidence threshold).</summary>
public sealed record GateOptions
{
    /// <summary>Top-class probability below which a window is a hard case.</summary>
    public float ConfidenceThreshold { get; init; } = 0.6f;

    /// <summary>
    /// Out-of-distribution score (fraction of the window's values outside the reference profile's
    /// central range, see <see cref="Drift.DriftMonitor.OutOfDistributionScore"/>) at or above which a window is
    /// a hard case even when the model is confident. Null = confidence only. Needs a reference profile.
    /// </summary>
    public float? OutOfDistributionThreshold { get; init; }

    public IReadOnlyList<string> Validate(string prefix = "pipeline.gate")
    {
        var problems = new List<string>();
        if (!(ConfidenceThreshold >= 0 && ConfidenceThreshold <= 1)) problems.Add($"{prefix}.confidenceThreshold: must be in [0, 1] (is {ConfidenceThreshold})");
        if (OutOfDistributionThreshold is { } ood && !(ood > 0 && ood <= 1)) problems.Add($"{prefix}.outOfDistributionThreshold: must be in (0, 1] (is {ood})");
        return problems;
    }
}

/// <summary>Decides whether the local answer stands or the window goes to the cloud tier. Stateless, thread-safe.</summary>
public sealed class ConfidenceGate(GateOptions options)
{
    public GateOptions Options { get; } = options;

    /// <summary>Low confidence wins over out-of-distribution when both apply (it is the more common, more actionable reason).</summary>
    public EscalationReason Decide(float confidence, float oodScore)
    {
        if (!(confidence >= Options.ConfidenceThreshold)) return EscalationReason.LowConfidence;
        if (Options.OutOfDistributionThreshold is { } limit && oodScore >= limit) return EscalationReason.OutOfDistribution;
        return EscalationReason.None;
    }
}
