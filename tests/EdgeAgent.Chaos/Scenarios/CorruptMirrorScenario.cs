using EdgeAgent.Chaos.Faults;
using EdgeAgent.Chaos.Harness;
using EdgeAgent.Chaos.Rig;

namespace EdgeAgent.Chaos.Scenarios;

/// <summary>
/// A mirror serves a corrupted bundle for a correctly signed release (flipped bytes, a zeroed tail,
/// another release's bundle, extra bytes). The device must refuse it, keep serving 1.0.0 intact, and
/// — once the mirror serves the right bytes again — install and commit 2.0.0 by itself: the release
/// was never bad, only its copy.
/// </summary>
public sealed class CorruptMirrorScenario : IChaosScenario
{
    private static readonly MirrorCorruption[] Kinds = [MirrorCorruption.FlipBytes, MirrorCorruption.ZeroTail, MirrorCorruption.Substitute, MirrorCorruption.Overlong];

    public string Name => "corrupt-mirror";

    public string Description => "a mirror serves corrupted bundles of a signed release, then heals; the device refuses, serves 1.0.0, then commits 2.0.0";

    public async Task<string> RunAsync(ChaosRun run, CancellationToken ct)
    {
        await using var rig = await UpdateRig.CreateAsync(run, ct);
        int refused = 0, healed = 0;
        var outcomes = new List<string>();
        for (int round = 1; round <= run.Rounds; round++)
        {
            // Every kind once in order before seeded repeats, so the short form covers the first three.
            var kind = round <= Kinds.Length ? Kinds[round - 1] : Kinds[run.Random.Next(Kinds.Length)];
            var device = rig.NewDevice();
            rig.Mirror.Corruption = kind;
            var bad = await rig.RunAsync(device, null, ct);
            var (problem, version) = rig.CheckNotTorn(device);
            run.Log($"round {round} ({kind}): corrupted mirror → exit {bad.ExitCode}, {bad.Done ?? "no DONE line"}; serving {version ?? "?"}");
            if (problem is not null) run.Fail($"round {round} ({kind}): {problem}");
            run.Check(version == "1.0.0", $"round {round} ({kind}): serving {version ?? "nothing"} after a corrupted download (expected 1.0.0)");
            run.Check(bad.Done?.StartsWith("DONE Refused", StringComparison.Ordinal) == true && bad.Done.Contains("failures=0", StringComparison.Ordinal),
                $"round {round} ({kind}): expected the corrupted bundle refused with 0 failed inferences, got exit {bad.ExitCode}: {bad.Done ?? bad.Stderr.Split('\n')[0]}");
            if (bad.Done?.StartsWith("DONE Refused", StringComparison.Ordinal) == true) refused++;

            rig.Mirror.Corruption = MirrorCorruption.None;
            var good = await rig.RunAsync(device, null, ct);
            (problem, version) = rig.CheckNotTorn(device);
            run.Log($"round {round} ({kind}): mirror healed → exit {good.ExitCode}, {good.Done ?? "no DONE line"}; serving {version ?? "?"}");
            if (problem is not null) run.Fail($"round {round} ({kind}): after healing: {problem}");
            bool committed = good.Done?.StartsWith("DONE Committed failures=0", StringComparison.Ordinal) == true && version == "2.0.0";
            if (committed) healed++;
            else run.Fail($"round {round} ({kind}): the device did not install the correctly signed 2.0.0 once the mirror served the right bytes (serving {version ?? "nothing"}): {good.Done ?? good.Stderr.Split('\n')[0]}");
            outcomes.Add($"{kind}:{(committed ? "ok" : "stuck")}");
        }
        return $"rounds={run.Rounds} refused={refused}/{run.Rounds} recoveredAfterHeal={healed}/{run.Rounds} corruptedBodies={rig.Mirror.CorruptedBodies} [{string.Join(' ', outcomes)}]";
    }
}
