using EdgeAgent.Chaos.Harness;
using EdgeAgent.Chaos.Rig;

namespace EdgeAgent.Chaos.Scenarios;

/// <summary>
/// Mosquitto killed with SIGKILL (or, <paramref name="graceful"/>, stopped with SIGTERM, as a package
/// upgrade does) under telemetry load and started again on the same port with its persistence file
/// (sessions and queued QoS 1 messages as of its last save). The agent's drainer must fail over to
/// retrying, keep its rows, and deliver everything once the broker is back.
/// </summary>
public sealed class BrokerKillScenario(bool graceful = false) : IChaosScenario
{
    public string Name => graceful ? "broker-restart" : "broker-kill";

    public string Description => graceful
        ? "Mosquitto stopped gracefully (SIGTERM, persistence saved) under telemetry load and started again"
        : "Mosquitto SIGKILLed under telemetry load and restarted on the same port (persistence on)";

    public async Task<string> RunAsync(ChaosRun run, CancellationToken ct)
    {
        await using var rig = await TelemetryRig.StartAsync(run, new TelemetryRig.Options(), ct);
        for (int round = 1; round <= run.Rounds; round++)
        {
            var load = TimeSpan.FromMilliseconds(run.Random.Next(800, run.IsShort ? 1500 : 4000));
            var down = TimeSpan.FromMilliseconds(run.Random.Next(500, run.IsShort ? 1500 : 5000));
            await TelemetryRig.LoadAsync(load, ct);
            if (graceful) await rig.Broker.StopAsync();
            else await rig.Broker.KillAsync();
            run.Log($"round {round}: broker {(graceful ? "stopped (SIGTERM)" : "SIGKILLed")} after {load.TotalMilliseconds:0} ms of load; down for {down.TotalMilliseconds:0} ms (outbox depth {rig.Witness.Last?.Depth})");
            await Task.Delay(down, ct);
            await rig.Broker.StartAgainAsync();
        }
        await TelemetryRig.LoadAsync(TimeSpan.FromSeconds(2), ct);
        var report = await rig.VerifyRecoveryAsync(TimeSpan.FromSeconds(60), ct);
        return $"{(graceful ? "restarts" : "kills")}={run.Rounds} {report.Figures} recovery={rig.RecoverySeconds:0.0}s";
    }
}
