using EdgeAgent.Chaos.Harness;
using EdgeAgent.Chaos.Rig;

namespace EdgeAgent.Chaos.Scenarios;

/// <summary>
/// edgehub SIGKILLed at seeded random moments while a rollout of the ~1 MB release 2.0.0 runs — while devices fetch
/// metadata and the bundle from its <c>/tuf/</c>, or between their assignment and their commit — and started again on
/// the same SQLite store and release keys 2–6 s later. Downloads must retry or resume by themselves, the rollout
/// engine must pick up where it was (its state is in the store), and the update transitions the devices sent while
/// the hub was down must reach it through its persistent MQTT session.
/// </summary>
public sealed class RolloutHubRestartScenario : IChaosScenario
{
    public string Name => "rollout-hub-restart";

    public string Description => "edgehub SIGKILLed mid-rollout (downloads, assignment-to-commit) and restarted on the same store 2-6 s later";

    public async Task<string> RunAsync(ChaosRun run, CancellationToken ct)
    {
        await using var rig = await RolloutRig.StartAsync(run, new RolloutRig.Options { Devices = run.IsShort ? 2 : 3, ObserveWindow = TimeSpan.FromSeconds(run.IsShort ? 5 : 15) }, ct);
        await rig.InstallFirstReleaseAsync(ct);
        await TelemetryRig.LoadAsync(TimeSpan.FromSeconds(1), ct);
        var id = await rig.StartRolloutAsync("2.0.0", ct);
        int startFailures = 0;
        var landed = new List<string>();
        for (int round = 1; round <= run.Rounds; round++)
        {
            // The first kill soon after the start (devices fetching metadata and the bundle from the hub), the others
            // between activation and commit (the devices' health window, their commit reports, the engine's step decision).
            var wait = TimeSpan.FromMilliseconds(round == 1 ? run.Random.Next(0, 800) : run.Random.Next(500, run.IsShort ? 2000 : 3000));
            var down = TimeSpan.FromMilliseconds(run.Random.Next(2000, run.IsShort ? 4000 : 6000));
            await Task.Delay(wait, ct);
            var before = await rig.ProgressAsync(id, ct);
            var phases = await rig.DevicePhasesAsync(ct);
            await rig.Hub.KillAsync();
            landed.Add(phases);
            run.Log($"round {round}: hub SIGKILLed {wait.TotalMilliseconds:0} ms after {(round == 1 ? "the rollout started" : "the last restart")}, devices {phases}, hub: rollout {before.State} {before.DeviceStates}; down for {down.TotalMilliseconds:0} ms");
            await Task.Delay(down, ct);
            startFailures += await HubRestartScenario.StartHubAsync(rig.Hub, run, round, ct);
            run.Log($"round {round}: hub answering again, rollout {(await rig.ProgressAsync(id, ct)).State}");
        }
        var verdict = await rig.VerifyAsync(id, "2.0.0", TimeSpan.FromSeconds(run.IsShort ? 90 : 120), ct);
        return $"hubKills={run.Rounds} hubStartFailures={startFailures} {verdict} landedIn=[{string.Join("; ", landed)}]";
    }
}
