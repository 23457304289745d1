using EdgeAgent.Chaos.Harness;
using EdgeAgent.Chaos.Rig;

namespace EdgeAgent.Chaos.Scenarios;

/// <summary>
/// edgehub killed with SIGKILL while it ingests and started again on the same store: the broker keeps
/// the hub's persistent session meanwhile, redelivers what the hub had not acknowledged, and the
/// store's primary key makes the redelivery harmless.
/// </summary>
public sealed class HubRestartScenario : IChaosScenario
{
    public string Name => "hub-restart";

    public string Description => "edgehub SIGKILLed during ingestion and restarted on the same store (persistent MQTT session)";

    public async Task<string> RunAsync(ChaosRun run, CancellationToken ct)
    {
        int startFailures = 0;
        await using var rig = await TelemetryRig.StartAsync(run, new TelemetryRig.Options(), ct);
        for (int round = 1; round <= run.Rounds; round++)
        {
            await TelemetryRig.LoadAsync(TimeSpan.FromMilliseconds(run.Random.Next(800, run.IsShort ? 2000 : 5000)), ct);
            // Seconds, like a redeploy: long enough for the broker to queue more than a Receive Maximum (100) of batches.
            var down = TimeSpan.FromMilliseconds(run.Random.Next(4000, run.IsShort ? 6000 : 15000));
            await rig.Hub.KillAsync();
            run.Log($"round {round}: hub SIGKILLed; down for {down.TotalMilliseconds:0} ms");
            await Task.Delay(down, ct);
            startFailures += await StartHubAsync(rig.Hub, run, round, ct);
            run.Log($"round {round}: hub answering again");
        }
        await TelemetryRig.LoadAsync(TimeSpan.FromSeconds(2), ct);
        var report = await rig.VerifyRecoveryAsync(TimeSpan.FromSeconds(60), ct);
        return $"hubKills={run.Rounds} hubStartFailures={startFailures} {report.Figures} recovery={rig.RecoverySeconds:0.0}s";
    }

    /// <summary>
    /// Starts the hub again; a hub that dies during start-up is a problem, and is started again the way
    /// systemd's <c>Restart=always</c> would (three tries) so the delivery check still gets its figures.
    /// Returns how many starts failed.
    /// </summary>
    internal static async Task<int> StartHubAsync(HubProcess hub, ChaosRun run, int round, CancellationToken ct)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await hub.StartAgainAsync(ct);
                return attempt - 1;
            }
            catch (InvalidOperationException e) when (attempt < 3)
            {
                var log = await File.ReadAllLinesAsync(Path.Combine(Path.GetDirectoryName(hub.StorePath)!, "hub.log"), ct);
                var cause = log.LastOrDefault(l => l.Contains("Exception:", StringComparison.Ordinal))?.Trim() ?? "no exception in hub.log";
                run.Fail($"round {round}: {e.Message.Split(';')[0]} ({cause})");
            }
        }
    }
}
