using EdgeAgent.Chaos.Harness;
using EdgeAgent.Chaos.Rig;

namespace EdgeAgent.Chaos.Scenarios;

/// <summary>
/// Mosquitto SIGKILLed — every third round stopped with SIGTERM instead, as a package upgrade does — at seeded
/// random moments while a rollout of the ~1 MB release 2.0.0 runs on live daemons under telemetry load, and started
/// again on the same port 0.5–5 s later. The devices' update transitions travel over MQTT (the <c>update</c>
/// stream) and so do the hub's fleet hints and acknowledgements: the rollout must still complete, every device must
/// commit 2.0.0, and nothing the devices committed may be lost or stored twice.
/// </summary>
public sealed class RolloutBrokerKillScenario : IChaosScenario
{
    public string Name => "rollout-broker-kill";

    public string Description => "Mosquitto SIGKILLed/SIGTERMed at random moments during a rollout of a 1 MB release to live daemons, restarted 0.5-5 s later";

    public async Task<string> RunAsync(ChaosRun run, CancellationToken ct)
    {
        await using var rig = await RolloutRig.StartAsync(run, new RolloutRig.Options { Devices = run.IsShort ? 2 : 3, ObserveWindow = TimeSpan.FromSeconds(run.IsShort ? 5 : 15) }, ct);
        var (id, landed) = await rig.RolloutWithFaultsAsync(1200, async (round, moment) =>
        {
            var down = TimeSpan.FromMilliseconds(run.Random.Next(500, run.IsShort ? 1500 : 5000));
            bool graceful = round % 3 == 0;
            if (graceful) await rig.Broker.StopAsync();
            else await rig.Broker.KillAsync();
            run.Log($"round {round}: broker {(graceful ? "stopped (SIGTERM)" : "SIGKILLed")} {moment}; down for {down.TotalMilliseconds:0} ms");
            await Task.Delay(down, ct);
            await rig.Broker.StartAgainAsync();
        }, ct);
        var verdict = await rig.VerifyAsync(id, "2.0.0", TimeSpan.FromSeconds(run.IsShort ? 90 : 120), ct);
        return $"brokerFaults={run.Rounds} {verdict} landedIn=[{string.Join("; ", landed)}]";
    }
}
