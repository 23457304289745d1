using EdgeAgent.Hub.Hosting;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hub.Releases;

/// <summary>
/// Publishes the repository at start (a new store gets root, targets, assignments, snapshot and timestamp;
/// roots added to the trust directory by a rotation are adopted), then every
/// <see cref="HubOptions.ResignInterval"/> re-signs roles with less than half of their lifetime left, so
/// the timestamp never lapses while the hub runs (TUF §4.6: a stale timestamp is a freeze attack to a
/// client). The interval ticks on the injected <see cref="TimeProvider"/>. Start fails when the store is
/// unusable; a failed tick is logged and retried at the next one.
/// </summary>
public sealed class MetadataResignService(ReleaseSigner signer, HubOptions options, TimeProvider time, ILogger<MetadataResignService> logger) : BackgroundService
{
    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        if (signer.CanSign) await signer.InitializeAsync(cancellationToken);
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!signer.CanSign) return;
        using var timer = new PeriodicTimer(options.ResignInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await signer.ResignDueAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // Any failure (store down, a driver error): the loop must survive to try again, or the
                    // timestamp lapses for the whole fleet.
                    logger.LogError(e, "Re-signing metadata failed; retrying in {Interval}", options.ResignInterval);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
