using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hosting.Systemd;

/// <summary>
/// Feeds the systemd watchdog (<c>WATCHDOG=1</c>) at half of <c>$WATCHDOG_USEC</c> (man sd_watchdog_enabled),
/// but only while every <see cref="LivenessSource"/> in the <see cref="LivenessMonitor"/> has beaten recently.
/// A hung pipeline or MQTT loop therefore gets the agent restarted by systemd (<c>Restart=on-failure</c>),
/// whereas a timer-driven ping alone would keep a wedged process alive forever.
/// </summary>
/// <remarks>No ping is sent before the first liveness source registers. Does nothing when the watchdog is not enabled for this process (no <c>WATCHDOG_USEC</c>,
/// or <c>WATCHDOG_PID</c> names another process).</remarks>
public sealed class WatchdogService(
    SystemdEnvironment environment, SystemdNotifier notifier, LivenessMonitor monitor, ServiceStatus status, ILogger<WatchdogService> logger)
    : BackgroundService
{
    private bool _stalledReported;

    /// <summary>The ping period, or null when the watchdog is disabled.</summary>
    public TimeSpan? PingInterval => environment.WatchdogInterval is { } i ? i / 2 : null;

    /// <summary>Pings sent so far (for <c>status</c> and tests).</summary>
    public long PingsSent => Interlocked.Read(ref _pingsSent);
    private long _pingsSent;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (PingInterval is not { } interval)
        {
            logger.LogDebug("systemd watchdog not enabled for this process");
            return;
        }
        logger.LogInformation("systemd watchdog enabled: ping every {Interval} while {Sources} report progress",
            interval, string.Join(", ", monitor.Sources.Select(s => s.Name)));
        using var timer = new PeriodicTimer(interval, monitor.Time);
        do Tick();
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
    }

    private static async ValueTask<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { return false; }
    }

    /// <summary>One watchdog decision: ping when healthy, otherwise withhold the ping. Returns whether it pinged.</summary>
    internal bool Tick()
    {
        // No loop has registered yet (host starting, model loading): nothing vouches for progress, so no ping.
        // systemd's start timeout covers this phase; WatchdogSec applies once the loops run.
        if (!monitor.AnySourceRegistered) return false;
        var stalled = monitor.StalledSources();
        if (stalled.Count == 0)
        {
            if (_stalledReported)
            {
                _stalledReported = false;
                logger.LogInformation("All liveness sources report progress again; feeding the systemd watchdog");
            }
            if (notifier.Notify("WATCHDOG=1")) Interlocked.Increment(ref _pingsSent);
            return true;
        }
        if (!_stalledReported)
        {
            _stalledReported = true;
            logger.LogError("No progress from {Sources}; withholding the systemd watchdog ping so systemd restarts the agent", string.Join(", ", stalled));
            status.ReportStatus("stalled: " + string.Join(", ", stalled));
        }
        return false;
    }
}
