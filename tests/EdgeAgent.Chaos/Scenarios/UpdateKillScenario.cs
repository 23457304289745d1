using EdgeAgent.Chaos.Harness;
using EdgeAgent.Chaos.Rig;

namespace EdgeAgent.Chaos.Scenarios;

/// <summary>
/// The updating process SIGKILLed at seeded random moments of an update (download over a throttled
/// mirror, verification, validation, activation, observation), one to three times per device, then
/// restarted until it finishes. After every kill the device serves 1.0.0 or 2.0.0 intact, never a
/// torn or unvalidated model; the last run commits 2.0.0.
/// </summary>
public sealed class UpdateKillScenario : IChaosScenario
{
    public string Name => "update-sigkill";

    public string Description => "the updating process SIGKILLed at random moments of an update, restarted until it commits";

    public async Task<string> RunAsync(ChaosRun run, CancellationToken ct)
    {
        await using var rig = await UpdateRig.CreateAsync(run, ct);
        // ~0.3 s of download per attempt: room for kills to land mid-transfer.
        rig.Mirror.BytesPerSecond = Math.Max(64 * 1024, rig.V2Bundle.Length * 3);

        // Calibrate: how long does an unkilled update take here? Kills are spread over that span.
        var calibration = await rig.RunAsync(rig.NewDevice(), null, ct);
        run.Check(calibration.Done?.StartsWith("DONE Committed failures=0", StringComparison.Ordinal) == true, $"an update without faults did not commit: {calibration.Done ?? calibration.Stderr}");
        int span = (int)calibration.Elapsed.TotalMilliseconds;
        run.Log($"calibration: an update takes {span} ms here ({calibration.Done})");

        int kills = 0, devices = 0, servedV1 = 0, servedV2 = 0, torn = 0;
        var phasesAtKill = new Dictionary<string, int>();
        while (kills < run.Rounds)
        {
            var device = rig.NewDevice();
            devices++;
            int killsHere = 1 + run.Random.Next(3);
            for (int k = 0; k < killsHere && kills < run.Rounds; k++)
            {
                var after = TimeSpan.FromMilliseconds(run.Random.Next(50, span + 200));
                var r = await rig.RunAsync(device, after, ct);
                string phase = r.Lines.LastOrDefault(l => l.StartsWith("PHASE ", StringComparison.Ordinal))?[6..] ?? (r.Lines.Count > 0 ? "serving" : "starting");
                if (r.Killed)
                {
                    kills++;
                    phasesAtKill[phase] = phasesAtKill.GetValueOrDefault(phase) + 1;
                }
                var (problem, version) = rig.CheckNotTorn(device);
                if (problem is not null)
                {
                    torn++;
                    run.Fail($"device {devices}, kill {k + 1} at {after.TotalMilliseconds:0} ms (last phase {phase}): {problem}");
                }
                if (r.Killed && version == "1.0.0") servedV1++;
                if (r.Killed && version == "2.0.0") servedV2++;
                if (!r.Killed && r.ExitCode != 0) run.Fail($"device {devices}: the runner failed on its own (exit {r.ExitCode}): {r.Stderr.Split('\n')[0]}");
            }
            var final = await rig.RunAsync(device, null, ct);
            var (finalProblem, finalVersion) = rig.CheckNotTorn(device);
            bool done = final.Done is { } d && (d.StartsWith("DONE Committed failures=0", StringComparison.Ordinal) || d.StartsWith("DONE Idle failures=0", StringComparison.Ordinal));
            run.Check(done && finalVersion == "2.0.0" && finalProblem is null,
                $"device {devices}: after its kills the update did not finish with 2.0.0 committed: {final.Done ?? final.Stderr.Split('\n')[0]} (serving {finalVersion ?? "?"}{(finalProblem is null ? "" : ", " + finalProblem)})");
        }
        run.Log("kills by last reported phase: " + string.Join(", ", phasesAtKill.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key}={kv.Value}")));
        return $"kills={kills} devices={devices} servingAfterKill: v1={servedV1} v2={servedV2} torn={torn} lastPhaseAtKill=[{string.Join(' ', phasesAtKill.Select(kv => $"{kv.Key}:{kv.Value}"))}] updateSpan={span}ms";
    }
}
