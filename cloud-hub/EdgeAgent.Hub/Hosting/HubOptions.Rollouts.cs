namespace EdgeAgent.Hub.Hosting;

public sealed partial record HubOptions
{
    /// <summary>How often the rollout engine looks at active rollouts without being nudged (update reports and API actions nudge it).</summary>
    public TimeSpan RolloutTickInterval { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>How long one instance's evaluation lease on a rollout lasts before another instance may take over (a crashed instance's lease expires).</summary>
    public TimeSpan RolloutLease { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>Run the rollout engine in this instance (several instances may; they coordinate through leases).</summary>
    public bool RolloutEngine { get; init; } = true;

    partial void ValidateRollouts(List<string> problems)
    {
        if (RolloutTickInterval <= TimeSpan.Zero) problems.Add($"rollout tick interval {RolloutTickInterval} must be positive");
        if (RolloutLease < RolloutTickInterval) problems.Add($"rollout lease {RolloutLease} must be at least the tick interval {RolloutTickInterval}");
    }
}
