using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hosting.Systemd;

/// <summary>
/// What the agent tells its service manager about itself. The pipeline calls <see cref="ReportReady"/>
/// once it is really running (sensor open, model loaded) — not when the host merely started — so
/// <c>systemctl start</c> returns only when the agent works (systemd <c>Type=notify</c>).
/// </summary>
/// <remarks>Thread-safe. Without systemd the calls only log the transitions.</remarks>
public sealed class ServiceStatus(SystemdNotifier notifier, ILogger<ServiceStatus> logger)
{
    private readonly object _gate = new();
    private string? _lastStatus;
    private int _ready;
    private int _stopping;

    /// <summary>True after <see cref="ReportReady"/>.</summary>
    public bool IsReady => Volatile.Read(ref _ready) == 1;

    /// <summary>The last status text reported.</summary>
    public string? Current { get { lock (_gate) return _lastStatus; } }

    /// <summary>Sends <c>READY=1</c> (once) together with a status line.</summary>
    public void ReportReady(string status)
    {
        if (Interlocked.Exchange(ref _ready, 1) == 1) { ReportStatus(status); return; }
        lock (_gate) _lastStatus = status;
        logger.LogInformation("Agent ready: {Status}", status);
        notifier.Notify("READY=1\n" + SystemdNotifier.Status(status));
    }

    /// <summary>Sends <c>STATUS=</c> when the text changes (one event per state change, not per call).</summary>
    public void ReportStatus(string status)
    {
        lock (_gate)
        {
            if (status == _lastStatus) return;
            _lastStatus = status;
        }
        logger.LogInformation("Agent status: {Status}", status);
        notifier.Notify(SystemdNotifier.Status(status));
    }

    /// <summary>Sends <c>STOPPING=1</c> once, however many shutdown paths call it.</summary>
    public void ReportStopping(string status = "stopping: draining in-flight work")
    {
        if (Interlocked.Exchange(ref _stopping, 1) == 1) return;
        lock (_gate) _lastStatus = status;
        logger.LogInformation("Agent stopping");
        notifier.Notify("STOPPING=1\n" + SystemdNotifier.Status(status));
    }

    /// <summary>
    /// Asks systemd for more time for the current start or stop phase (<c>EXTEND_TIMEOUT_USEC</c>), for
    /// example while a large outbox flush runs at shutdown.
    /// </summary>
    public void ExtendTimeout(TimeSpan extra) =>
        notifier.Notify($"EXTEND_TIMEOUT_USEC={(long)extra.TotalMicroseconds}");
}
