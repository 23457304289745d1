using EdgeAgent.Chaos.Checks;
using EdgeAgent.Chaos.Faults;
using EdgeAgent.Chaos.Harness;
using EdgeAgent.Chaos.Rig;

namespace EdgeAgent.Chaos.Scenarios;

/// <summary>
/// The agent's wall clock jumps forward and backward (libfaketime, monotonic clock untouched, as with
/// an NTP step or a wrong RTC) while it runs and sends telemetry. Nothing may be lost or stall; the
/// hub must hold events dated in the jumped time, which proves the jump reached the agent.
/// </summary>
public sealed class ClockJumpScenario : IChaosScenario
{
    public string Name => "clock-jump";

    public string Description => "agent wall clock jumps forward/backward by hours to days (libfaketime) while it runs";

    public async Task<string> RunAsync(ChaosRun run, CancellationToken ct)
    {
        var clock = FakeClock.Create(run.Subdirectory("clock"));
        await using var rig = await TelemetryRig.StartAsync(run, new TelemetryRig.Options { AgentEnvironment = clock.Environment }, ct);
        var jumps = new List<string>();
        TimeSpan maxForward = TimeSpan.Zero, maxBackward = TimeSpan.Zero;
        for (int round = 1; round <= run.Rounds; round++)
        {
            await TelemetryRig.LoadAsync(TimeSpan.FromMilliseconds(run.Random.Next(1500, 3000)), ct);
            // Alternate: forward by 1 h .. 3 days, then backward to 1 h .. 2 days before real time.
            var offset = round % 2 == 1
                ? TimeSpan.FromHours(run.Random.Next(1, 72))
                : -TimeSpan.FromHours(run.Random.Next(1, 48));
            var step = offset - clock.Offset;
            clock.Set(offset);
            if (offset > maxForward) maxForward = offset;
            if (offset < maxBackward) maxBackward = offset;
            jumps.Add($"{(step >= TimeSpan.Zero ? "+" : "-")}{Math.Abs(step.TotalHours):0}h");
            run.Log($"round {round}: agent clock jumps {jumps[^1]} to real {(offset >= TimeSpan.Zero ? "+" : "-")}{Math.Abs(offset.TotalHours):0}h");
        }
        await TelemetryRig.LoadAsync(TimeSpan.FromSeconds(3), ct);
        var report = await rig.VerifyRecoveryAsync(TimeSpan.FromSeconds(60), ct, cleanExitExpected: false);

        // The fault really happened: events carry timestamps from the jumped clock.
        using (var hub = SqliteFiles.OpenReadOnly(rig.Hub.StorePath))
        {
            long now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            long maxTs = SqliteFiles.Scalar(hub, "SELECT coalesce(max(ts), 0) FROM telemetry_events");
            long minTs = SqliteFiles.Scalar(hub, "SELECT coalesce(min(ts), 0) FROM telemetry_events");
            run.Log($"hub event timestamps: {TimeSpan.FromMilliseconds(minTs - now).TotalHours:0.0} h .. {TimeSpan.FromMilliseconds(maxTs - now).TotalHours:+0.0} h from real time");
            if (maxForward > TimeSpan.Zero)
                run.Check(maxTs > now + (long)(maxForward.TotalMilliseconds / 2), $"no event at the hub is dated in the forward jump (+{maxForward.TotalHours:0} h): the clock fault did not reach the agent");
            if (maxBackward < TimeSpan.Zero)
                run.Check(minTs < now + (long)(maxBackward.TotalMilliseconds / 2), $"no event at the hub is dated in the backward jump ({maxBackward.TotalHours:0} h): the clock fault did not reach the agent");
        }
        return $"jumps=[{string.Join(' ', jumps)}] {report.Figures} recovery={rig.RecoverySeconds:0.0}s";
    }
}
