namespace EdgeAgent.Chaos.Harness;

/// <summary>The outcome of one scenario run; <see cref="Line"/> is what the suite prints.</summary>
public sealed record ChaosVerdict(string Scenario, bool Passed, string Summary, IReadOnlyList<string> Problems, string? KeptLogs, TimeSpan Elapsed)
{
    /// <summary><c>CHAOS &lt;scenario&gt; PASS|FAIL &lt;summary&gt;</c>, plus where the logs are when kept.</summary>
    public string Line =>
        $"CHAOS {Scenario} {(Passed ? "PASS" : "FAIL")} {Summary}" +
        (Problems.Count > 0 ? $"; {Problems.Count} problem(s): {Problems[0]}" : "") +
        (KeptLogs is null ? "" : $" [logs: {KeptLogs}]");
}
