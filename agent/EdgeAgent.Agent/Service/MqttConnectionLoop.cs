using EdgeAgent.Hosting.Systemd;
using EdgeAgent.Mqtt;
using EdgeAgent.Pipeline.Cloud;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Agent.Service;

/// <summary>
/// Keeps the agent's MQTT connection up. The client reconnects by itself only after a first successful
/// connect, so this loop retries the first one with jittered exponential backoff (1 s … 60 s) — a device that
/// boots without network must come online when the network does, without a restart. Once connected it attaches
/// the cloud tier (subscribes its response topic; the client re-subscribes after later reconnects).
/// </summary>
/// <remarks>
/// Registers the <c>mqtt</c> liveness source and beats while the loop runs: being offline is normal on a device
/// and must not get the agent restarted, a dead loop must. One instance per client; <see cref="RunAsync"/> once.
/// </remarks>
internal sealed class MqttConnectionLoop(MqttClient client, string endpoint, CloudTier? cloud, LivenessMonitor liveness,
    RecentErrors errors, ILogger logger)
{
    private static readonly TimeSpan Tick = TimeSpan.FromSeconds(5);

    /// <summary>Runs until <paramref name="ct"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        using var beat = liveness.Register("mqtt", TimeSpan.FromMinutes(3));
        var delay = TimeSpan.FromSeconds(1);
        bool first = true;
        while (!ct.IsCancellationRequested)
        {
            beat.Beat();
            try
            {
                await client.ConnectAsync(ct).ConfigureAwait(false);
                logger.LogInformation("MQTT connected to {Endpoint}", endpoint);
                break;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                if (first)
                    logger.LogWarning("MQTT broker {Endpoint} not reachable at start ({Reason}); working offline and retrying", endpoint, e.Message);
                first = false;
                errors.Add("mqtt", $"broker {endpoint} not reachable: {e.Message}");
            }
            var wait = delay * (0.5 + Random.Shared.NextDouble() / 2);   // jitter: a fleet rebooting together must not reconnect in step
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(60).Ticks));
            if (!await DelayAsync(wait, beat, ct).ConfigureAwait(false)) return;
        }

        while (!ct.IsCancellationRequested)
        {
            beat.Beat();
            if (cloud is { IsAttached: false } && client.State == MqttConnectionState.Connected)
            {
                try
                {
                    await cloud.AttachAsync(ct).ConfigureAwait(false);
                    logger.LogInformation("Cloud tier attached: requests on {Topic}", cloud.Options.RequestTopic);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested) { return; }
                catch (Exception e)
                {
                    errors.Add("cloud", $"cannot subscribe {cloud.Options.ResponseTopic}: {e.Message}");
                }
            }
            if (!await DelayAsync(Tick, beat, ct).ConfigureAwait(false)) return;
        }
    }

    private static async Task<bool> DelayAsync(TimeSpan wait, LivenessSource beat, CancellationToken ct)
    {
        // Sleep in short steps so the liveness source keeps beating through a long backoff.
        var end = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < end)
        {
            try { await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, Math.Max(1, (end - DateTime.UtcNow).TotalMilliseconds))), ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { return false; }
            beat.Beat();
        }
        return true;
    }
}
