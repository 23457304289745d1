using EdgeAgent.Chaos.Harness;
using EdgeAgent.Chaos.Rig;

namespace EdgeAgent.Chaos.Scenarios;

/// <summary>
/// The agent killed with SIGKILL at seeded random moments while it writes telemetry to its outbox and
/// drains it, and started again (as systemd would). Each boot's committed events must reach the hub
/// exactly once, the outbox must stay a sound SQLite file, and each restart must serve again.
/// </summary>
public sealed class AgentKillScenario : IChaosScenario
{
    public string Name => "agent-sigkill";

    public string Description => "agent daemon SIGKILLed at random moments during outbox writes and drains, restarted each time";

    public async Task<string> RunAsync(ChaosRun run, CancellationToken ct)
    {
        await using var rig = await TelemetryRig.StartAsync(run, new TelemetryRig.Options(), ct);
        var lifetimes = new List<int>();
        for (int round = 1; round <= run.Rounds; round++)
        {
            int lifetime = run.Random.Next(200, run.IsShort ? 2000 : 5000);
            lifetimes.Add(lifetime);
            await Task.Delay(lifetime, ct);
            var before = rig.Witness.Last;
            await rig.Agent.KillAsync();
            run.Log($"round {round}: agent SIGKILLed {lifetime} ms after its boot answered (boot {before?.BootId[..8]}: {before?.AppendedEvents} committed, depth {before?.Depth})");
            var next = await rig.RestartAgentAsync(ct);
            run.Log($"round {round}: restarted as boot {next.BootId[..8]}");
        }
        await TelemetryRig.LoadAsync(TimeSpan.FromSeconds(2), ct);
        var report = await rig.VerifyRecoveryAsync(TimeSpan.FromSeconds(60), ct);
        run.Check(report.Boots.Count == run.Rounds + 1, $"expected {run.Rounds + 1} boots (one per start) to be accounted for, found {report.Boots.Count}");
        return $"kills={run.Rounds} (after {lifetimes.Min()}..{lifetimes.Max()} ms) {report.Figures} recovery={rig.RecoverySeconds:0.0}s";
    }
}
