using EdgeAgent.Chaos.Faults;
using EdgeAgent.Chaos.Harness;
using EdgeAgent.Chaos.Rig;

namespace EdgeAgent.Chaos.Scenarios;

/// <summary>
/// The agent's link to the broker cut and restored through <see cref="TcpChaosProxy"/>: resets (RST on
/// every connection, new ones refused) and blackholes longer than 1.5 × the 5 s keepalive (a silent
/// dead link only the keepalive reveals), alternating, seeded.
/// </summary>
public sealed class NetworkCutScenario : IChaosScenario
{
    public string Name => "network-cut";

    public string Description => "agent↔broker link reset (RST) or blackholed (silent, > keepalive) through a TCP proxy, then restored";

    public async Task<string> RunAsync(ChaosRun run, CancellationToken ct)
    {
        await using var rig = await TelemetryRig.StartAsync(run, new TelemetryRig.Options { Proxy = true }, ct);
        var proxy = rig.Proxy!;
        int resets = 0, blackholes = 0;
        for (int round = 1; round <= run.Rounds; round++)
        {
            await TelemetryRig.LoadAsync(TimeSpan.FromMilliseconds(run.Random.Next(800, 2500)), ct);
            // Every other round a blackhole, so the short form sees both kinds.
            var how = round % 2 == 0 ? LinkCut.Blackhole : LinkCut.Reset;
            var length = how == LinkCut.Reset
                ? TimeSpan.FromMilliseconds(run.Random.Next(1000, run.IsShort ? 2500 : 6000))
                : TimeSpan.FromMilliseconds(run.Random.Next(8000, run.IsShort ? 9500 : 15000));
            long resetBefore = proxy.ConnectionsReset;
            var before = rig.Witness.Last;
            proxy.Cut(how);
            if (how == LinkCut.Reset) resets++; else blackholes++;
            run.Log($"round {round}: link {how} for {length.TotalMilliseconds:0} ms (outbox depth {before?.Depth})");
            await Task.Delay(length, ct);
            var during = rig.Witness.Last;
            proxy.Restore();
            run.Log($"round {round}: link restored (outbox depth {during?.Depth})");
            // The fault reached the agent: nothing was delivered, so its backlog grew.
            run.Check(during is not null && before is not null && during.Depth > before.Depth + 10,
                $"round {round}: the outbox did not grow during the {how} ({before?.Depth} → {during?.Depth}): the cut did not reach the agent");
            if (how == LinkCut.Reset)
                run.Check(proxy.ConnectionsReset > resetBefore, $"round {round}: the reset found no connection to reset");
        }
        await TelemetryRig.LoadAsync(TimeSpan.FromSeconds(2), ct);
        var report = await rig.VerifyRecoveryAsync(TimeSpan.FromSeconds(60), ct);
        return $"resets={resets} blackholes={blackholes} proxyConnections={proxy.ConnectionsAccepted} {report.Figures} recovery={rig.RecoverySeconds:0.0}s";
    }
}
