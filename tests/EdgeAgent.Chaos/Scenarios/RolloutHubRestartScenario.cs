using EdgeAgent.Chaos.Harness;
using EdgeAgent.Chaos.Rig;

namespace EdgeAgent.Chaos.Scenarios;

/// <summary>
/// edgehub SIGKILLed at seeded random moments while a rollout of the ~1 MB release 2.0.0 runs — while devices fetch
/// metadata and the bundle (through the throttled mirror in front of its <c>/tuf/</c>), or between their assignment and
/// their commit — and started again on the same SQLite store and release keys 2–6 s later. Downloads must retry or
/// resume by themselves, the rollout engine must pick up where it was (its state is in the store), and the update
/// transitions the devices sent while the hub was down must reach it through its persistent MQTT session.
/// </summary>
public sealed class RolloutHubRestartScenario : IChaosScenario
{
    public string Name => "rollout-hub-restart";

    public string Description => "edgehub SIGKILLed mid-rollout (downloads, assignment-to-commit) and restarted on the same store 2-6 s later";

    public async Task<string> RunAsync(ChaosRun run, CancellationToken ct)
    {
        await using var rig = await RolloutRig.StartAsync(run, new RolloutRig.Options { Devices = run.IsShort ? 2 : 3, ObserveWindow = TimeSpan.FromSeconds(run.IsShort ? 5 : 15) }, ct);
        int startFailures = 0;
        var (id, landed) = await rig.RolloutWithFaultsAsync(800, async (round, moment) =>
        {
            var down = TimeSpan.FromMilliseconds(run.Random.Next(2000, run.IsShort ? 4000 : 6000));
            await rig.Hub.KillAsync();
            run.Log($"round {round}: hub SIGKILLed {moment}; down for {down.TotalMilliseconds:0} ms");
            await Task.Delay(down, ct);
            startFailures += await HubRestartScenario.StartHubAsync(rig.Hub, run, round, ct);
            run.Log($"round {round}: hub answering again, rollout {(await rig.ProgressAsync(rig.LastRolloutId!, ct)).State}");
        }, ct);
        var verdict = await rig.VerifyAsync(id, "2.0.0", TimeSpan.FromSeconds(run.IsShort ? 90 : 120), ct);
        return $"hubKills={run.Rounds} hubStartFailures={startFailures} {verdict} landedIn=[{string.Join("; ", landed)}]";
    }
}
