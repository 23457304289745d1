using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeAgent.Hosting.Systemd;

/// <summary>
/// Our <c>UseSystemd()</c>: an <see cref="IHostLifetime"/> that turns SIGTERM/SIGINT into a graceful
/// host stop and tells systemd <c>STOPPING=1</c> at once, so <c>systemctl status</c> shows the drain.
/// <c>READY=1</c> is deliberately not sent here: the pipeline sends it through
/// <see cref="ServiceStatus.ReportReady"/> when it actually runs.
/// </summary>
/// <remarks>
/// Handles the signals itself (<see cref="PosixSignalRegistration"/>, cancelling the default action) so the
/// runtime does not exit before hosted services have drained within <c>HostOptions.ShutdownTimeout</c>.
/// </remarks>
public sealed class SystemdLifetime(IHostApplicationLifetime applicationLifetime, ServiceStatus status, ILogger<SystemdLifetime> logger)
    : IHostLifetime, IDisposable
{
    private readonly List<PosixSignalRegistration> _signals = [];
    private CancellationTokenRegistration _stopping;

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        _stopping = applicationLifetime.ApplicationStopping.Register(() => status.ReportStopping());
        foreach (var signal in new[] { PosixSignal.SIGTERM, PosixSignal.SIGINT, PosixSignal.SIGQUIT })
            _signals.Add(PosixSignalRegistration.Create(signal, OnSignal));
        return Task.CompletedTask;
    }

    private void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // we stop ourselves, gracefully
        logger.LogInformation("Received {Signal}; stopping", context.Signal);
        status.ReportStopping();
        applicationLifetime.StopApplication();
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var s in _signals) s.Dispose();
        _signals.Clear();
        _stopping.Dispose();
    }
}
