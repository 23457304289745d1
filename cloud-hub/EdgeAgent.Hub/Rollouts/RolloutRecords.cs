using System.Text.Json.Serialization;

namespace EdgeAgent.Hub.Rollouts;

/// <summary>Life cycle of a rollout (Rollouts/README.md, "States").</summary>
public enum RolloutState
{
    /// <summary>Steps advance automatically when the current one is healthy and baked.</summary>
    Running,

    /// <summary>An operator stopped progression; health is still watched and a crossing still halts.</summary>
    Paused,

    /// <summary>A threshold was crossed; the previous releases are being re-assigned (then <see cref="RolledBack"/>).</summary>
    Halted,

    /// <summary>Every step passed: the release is the fleet's (cohort's) release.</summary>
    Completed,

    /// <summary>An operator stopped it; the devices it moved were given their previous release back.</summary>
    Aborted,

    /// <summary>Halted automatically and the devices it moved were given their previous release back.</summary>
    RolledBack,
}

/// <summary>Wire names (kebab-case) of <see cref="RolloutState"/>.</summary>
public static class RolloutStates
{
    public static string Wire(this RolloutState s) => s switch
    {
        RolloutState.RolledBack => "rolled-back",
        _ => s.ToString().ToLowerInvariant(),
    };

    public static RolloutState Parse(string wire) => wire switch
    {
        "running" => RolloutState.Running,
        "paused" => RolloutState.Paused,
        "halted" => RolloutState.Halted,
        "completed" => RolloutState.Completed,
        "aborted" => RolloutState.Aborted,
        "rolled-back" => RolloutState.RolledBack,
        _ => throw new FormatException($"unknown rollout state '{wire}'"),
    };

    /// <summary>Running, paused or halted: the family's one active rollout.</summary>
    public static bool IsActive(this RolloutState s) => s is RolloutState.Running or RolloutState.Paused or RolloutState.Halted;
}

/// <summary>One canary step: the share of the cohort that runs the release once the step starts.</summary>
/// <param name="Percent">1–100, strictly increasing over the steps; the last step is 100.</param>
/// <param name="BakeSeconds">How long the step must run (with healthy figures) before the next one starts.</param>
/// <param name="MinDevices">Devices that must have committed the release (cumulative) before the step may pass; capped at the devices assigned.</param>
public sealed record RolloutStep(double Percent, long BakeSeconds, int MinDevices);

/// <summary>
/// ML-health limits. A null limit is not checked. Ratios are over the devices that reported a final
/// outcome for the release; prediction figures need <see cref="MinPredictions"/> predictions and drift
/// needs <see cref="MinDriftSamples"/> samples of a feature before they can halt anything. A null limit is
/// written as null (not omitted), so a disabled limit stays disabled when read back. Setters rather than
/// init: System.Text.Json source generation sets every init-only property, so an omitted limit would
/// read as 0 instead of its default. Treat instances as immutable.
/// </summary>
public sealed record RolloutThresholds
{
    /// <summary>Devices that refused the release (validation: golden vectors, latency, contract, hash...) over devices reporting.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? MaxRefusalRatio { get; set; } = 0.2;

    /// <summary>Devices that rolled the release back by themselves (health window) over devices reporting.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? MaxRollbackRatio { get; set; } = 0.1;

    /// <summary>Share of predictions of the release that needed the cloud tier and did not get it (<c>decidedBy: fallback</c>).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? MaxFallbackRate { get; set; } = 0.2;

    /// <summary>Mean top-class probability of the release's own (local) answers.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? MinMeanConfidence { get; set; } = 0.5;

    /// <summary>Largest PSI of any input feature (devices' windows merged) against the release's reference profile.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public double? MaxDriftPsi { get; set; } = 0.25;

    /// <summary>Predictions needed before fallback rate and confidence are judged.</summary>
    public int MinPredictions { get; set; } = 100;

    /// <summary>Samples of a feature needed before its PSI is judged (PSI of small samples is noise: REFERENCE.md).</summary>
    public long MinDriftSamples { get; set; } = 1000;

    public static RolloutThresholds Default => new();
}

/// <summary>A rollout as stored.</summary>
/// <param name="Family">Model family (the registered model's name).</param>
/// <param name="Cohort">Device label selector: every pair must match (empty = every device).</param>
/// <param name="StepIndex">Current step (0-based).</param>
/// <param name="Reason">Why it halted, was paused or aborted (operator-readable), or null.</param>
/// <param name="Revision">Optimistic concurrency: every write checks and bumps it.</param>
public sealed record RolloutRecord(
    string Id,
    string Family,
    string Version,
    long ReleaseCounter,
    IReadOnlyDictionary<string, string> Cohort,
    IReadOnlyList<RolloutStep> Steps,
    RolloutThresholds Thresholds,
    RolloutState State,
    int StepIndex,
    DateTimeOffset StepStartedAt,
    string? Reason,
    string CreatedBy,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? FinishedAt,
    long Revision)
{
    /// <summary>The TUF target of the release (<c>models/&lt;family&gt;/&lt;version&gt;.bundle</c>).</summary>
    public string Target => EdgeAgent.Bundles.BundleLayout.TargetPath(Family, Version);
}

/// <summary>What the rollout did to a device.</summary>
public enum RolloutDeviceAction
{
    /// <summary>The release was assigned to it.</summary>
    Assigned,

    /// <summary>The rollout ended without the release (halt or abort): its previous release was assigned back.</summary>
    Reverted,
}

/// <summary>A device a rollout moved.</summary>
/// <param name="PreviousTarget">What it was assigned (or reported running) before, for rollback; null = nothing known (rollback then drops the family from its assignment).</param>
/// <param name="Published">True once the assignment for <see cref="Action"/> is published (signed and servable).</param>
public sealed record RolloutDeviceRecord(
    string RolloutId,
    string DeviceId,
    int StepIndex,
    DateTimeOffset AssignedAt,
    string? PreviousTarget,
    RolloutDeviceAction Action,
    bool Published);

/// <summary>One line of a rollout's history (create, step, halt, pause, ...).</summary>
public sealed record RolloutEventRecord(DateTimeOffset At, string Actor, string Action, string? Detail);

/// <summary>One update state machine transition reported by a device (<c>edgeagent/v1/{id}/update</c>).</summary>
/// <param name="Version">The release the transition is about.</param>
/// <param name="From">Phase left (kebab-case).</param>
/// <param name="To">Phase entered: downloading, verifying, validating, shadow, activating, observing, committed, rolled-back, refused.</param>
/// <param name="Metrics">Figures of the step as JSON text, or null.</param>
public sealed record DeviceUpdateEvent(
    string DeviceId,
    string BootId,
    long Seq,
    string Family,
    string Version,
    long ReleaseCounter,
    string From,
    string To,
    string? Reason,
    string? Code,
    string? Metrics,
    DateTimeOffset At);

/// <summary>A device's newest transition for one model family.</summary>
public sealed record DeviceUpdateState(string DeviceId, string Family, string Version, long ReleaseCounter, string Phase, string? Reason, string? Code, DateTimeOffset At);
