using EdgeAgent.Chaos.Faults;
using EdgeAgent.Chaos.Harness;
using EdgeAgent.Chaos.Rig;
using EdgeAgent.FleetSim.Fleet;

namespace EdgeAgent.Chaos.Scenarios;

/// <summary>
/// The mirror the running daemons download bundles through (<see cref="RolloutRig.Mirror"/>, in front of the hub's
/// <c>/tuf/</c>) serves the correctly signed 2.0.0 of a rollout with damaged bytes (flipped bytes, a zeroed tail, extra
/// bytes; seeded). Every device must refuse the bytes and keep serving 1.0.0; once the mirror serves the right bytes
/// again the devices must install 2.0.0 by themselves and the rollout complete: the release was never bad, only its copy.
/// </summary>
public sealed class RolloutCorruptMirrorScenario : IChaosScenario
{
    private static readonly MirrorCorruption[] Kinds = [MirrorCorruption.FlipBytes, MirrorCorruption.ZeroTail, MirrorCorruption.Overlong];

    public string Name => "rollout-corrupt-mirror";

    public string Description => "the daemons' bundle mirror corrupts a rollout's signed 2.0.0, then heals; devices refuse, serve 1.0.0, then commit 2.0.0";

    public async Task<string> RunAsync(ChaosRun run, CancellationToken ct)
    {
        await using var rig = await RolloutRig.StartAsync(run, new RolloutRig.Options { Devices = run.IsShort ? 2 : 3, ObserveWindow = TimeSpan.FromSeconds(5) }, ct);
        await rig.InstallFirstReleaseAsync(ct);
        var kind = Kinds[run.Random.Next(Kinds.Length)];
        rig.Mirror.Corruption = kind;
        var id = await rig.StartRolloutAsync("2.0.0", ct);

        // Every device tries the damaged copy at least once (the hub counts each device's newest state).
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var progress = await rig.ProgressAsync(id, ct);
        string phases = "";
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            phases = await rig.DevicePhasesAsync(ct);
            if (rig.Devices.All(d => phases.Contains($"{d.Id}:refused", StringComparison.Ordinal)) || progress.Finished) break;
            await Task.Delay(300, ct);
            progress = await rig.ProgressAsync(id, ct);
        }
        run.Log($"mirror serving {kind}: after {clock.Elapsed.TotalSeconds:0.0} s devices {phases}; hub: rollout {progress.State} {progress.DeviceStates} {progress.Reason}; corrupted bodies {rig.Mirror.CorruptedBodies}");
        run.Check(rig.Devices.All(d => phases.Contains($"{d.Id}:refused", StringComparison.Ordinal)),
            $"not every device refused the corrupted 2.0.0 ({kind}) within 60 s: {phases}");
        int serving1 = 0;
        foreach (var d in rig.Devices)
        {
            // Committed too: the first install passed its health window before 2.0.0 was rolled out (the agent's status
            // said "uncommitted" for a first install until a restart; fixed with this check).
            var (ok, _, last, _) = await d.Agent.WaitForRecoveryAsync($"{FleetReleases.Family} 1.0.0", long.MaxValue, TimeSpan.FromSeconds(20), ct, requireCommitted: true);
            if (ok) serving1++;
            run.Check(ok, $"{d.Id} does not serve 1.0.0 while the mirror serves a corrupted 2.0.0: {last}");
        }

        rig.Mirror.Corruption = MirrorCorruption.None;
        run.Log($"mirror healed; rollout {(await rig.ProgressAsync(id, ct)).State}");
        var verdict = await rig.VerifyAsync(id, "2.0.0", TimeSpan.FromSeconds(run.IsShort ? 60 : 90), ct);
        return $"corruption={kind} refusedBeforeHeal={phases.Split(' ').Count(p => p.EndsWith(":refused", StringComparison.Ordinal))}/{rig.Devices.Count} " +
               $"serving1.0.0WhileCorrupt={serving1}/{rig.Devices.Count} corruptedBodies={rig.Mirror.CorruptedBodies} {verdict}";
    }
}
