using EdgeAgent.Chaos.Faults;
using EdgeAgent.Chaos.Harness;
using EdgeAgent.Chaos.Rig;

namespace EdgeAgent.Chaos.Scenarios;

/// <summary>
/// The agent's state directory on a small tmpfs, the link to the broker cut so the outbox grows, and
/// the file system filled to ENOSPC by a ballast file. The agent must keep running (SQLITE_FULL is
/// handled: oldest telemetry dropped with tombstones naming the exact seq ranges), and after the
/// ballast is removed and the link restored, everything not tombstoned must reach the hub.
/// </summary>
public sealed class DiskFullScenario : IChaosScenario
{
    public string Name => "disk-full";

    public string Description => "agent state directory on a small tmpfs filled to ENOSPC while offline; ballast removed, link restored";

    public async Task<string> RunAsync(ChaosRun run, CancellationToken ct)
    {
        var state = Path.Combine(run.Subdirectory("agent"), "state");
        await using var tmpfs = await SmallTmpfs.MountAsync(state, 32L * 1024 * 1024);
        long ballastTotal = 0, fullErrors = 0, dropped = 0;
        try
        {
            // Budget above the file system size: the kernel's ENOSPC comes first, not the outbox's own cap.
            await using var rig = await TelemetryRig.StartAsync(run, new TelemetryRig.Options { Proxy = true, AgentStateDirectory = state, OutboxBudgetBytes = 256L * 1024 * 1024 }, ct);
            for (int round = 1; round <= run.Rounds; round++)
            {
                await TelemetryRig.LoadAsync(TimeSpan.FromMilliseconds(run.Random.Next(1000, 2500)), ct);
                rig.Proxy!.Cut(LinkCut.Reset);
                await TelemetryRig.LoadAsync(TimeSpan.FromSeconds(1), ct);
                long ballast = tmpfs.Fill();
                ballastTotal += ballast;
                run.Log($"round {round}: offline; tmpfs filled with {ballast / 1024} KiB of ballast, {tmpfs.FreeBytes} bytes free");
                var before = rig.Witness.Last;
                var deadline = DateTime.UtcNow.AddSeconds(run.IsShort ? 30 : 60);
                OutboxSnapshot? s = before;
                while (DateTime.UtcNow < deadline)
                {
                    s = rig.Witness.Last;
                    if (s is not null && before is not null && s.BootId == before.BootId && s.DiskFullErrors > before.DiskFullErrors) break;
                    await Task.Delay(250, ct);
                    tmpfs.Fill(); // space the outbox gave back (reserve file, vacuum) is taken again
                }
                run.Check(s is not null && before is not null && s.DiskFullErrors > before.DiskFullErrors,
                    $"round {round}: the outbox never reported SQLITE_FULL with the file system full (diskFullErrors {before?.DiskFullErrors} → {s?.DiskFullErrors})");
                // Stay full for a while: the agent must keep serving and keep its accounting.
                await TelemetryRig.LoadAsync(TimeSpan.FromSeconds(run.IsShort ? 3 : 8), ct);
                run.Check(rig.Agent.IsRunning, $"round {round}: the agent died with its state directory full (see agent.log)");
                s = rig.Witness.Last;
                fullErrors = s?.DiskFullErrors ?? fullErrors;
                dropped = s?.DroppedEvents ?? dropped;
                run.Log($"round {round}: full for a while: diskFullErrors {s?.DiskFullErrors}, dropped {s?.DroppedEvents}, tombstones {s?.TombstonesWritten}, depth {s?.Depth}");
                tmpfs.Drain();
                rig.Proxy.Restore();
                run.Log($"round {round}: ballast removed ({tmpfs.FreeBytes / 1024} KiB free), link restored");
            }
            await TelemetryRig.LoadAsync(TimeSpan.FromSeconds(2), ct);
            var report = await rig.VerifyRecoveryAsync(TimeSpan.FromSeconds(90), ct);
            CopyState(state, Path.Combine(run.LogDirectory, "agent-state-copy"));
            return $"rounds={run.Rounds} ballast={ballastTotal / 1024}KiB diskFullErrors={fullErrors} dropped={dropped} {report.Figures} recovery={rig.RecoverySeconds:0.0}s";
        }
        finally
        {
            tmpfs.Drain();
        }
    }

    /// <summary>The tmpfs vanishes at unmount; keep the outbox for the logs.</summary>
    private static void CopyState(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from, "outbox.db*")) File.Copy(f, Path.Combine(to, Path.GetFileName(f)), overwrite: true);
    }
}
