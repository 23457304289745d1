using EdgeAgent.Hosting.Systemd;
using EdgeAgent.Hosting.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeAgent.Hosting.Tests.Systemd;

public sealed class SystemdNotifierTests
{
    private static ServiceStatus Status(SystemdNotifier n) => new(n, NullLogger<ServiceStatus>.Instance);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Ready_status_and_stopping_arrive_as_datagrams_on_the_notify_socket(bool abstractNamespace)
    {
        using var systemd = new NotifySocketListener(abstractNamespace);
        using var notifier = new SystemdNotifier(systemd.Address);
        var status = Status(notifier);

        status.ReportStatus("starting: loading model");
        status.ReportReady("running: model kws v3");
        status.ReportStatus("running: model kws v3\nsecond line");
        status.ReportStopping();

        Assert.Equal("STATUS=starting: loading model", await systemd.ReceiveAsync());
        Assert.Equal("READY=1\nSTATUS=running: model kws v3", await systemd.ReceiveAsync());
        Assert.Equal("STATUS=running: model kws v3 second line", await systemd.ReceiveAsync());
        Assert.Equal("STOPPING=1\nSTATUS=stopping: draining in-flight work", await systemd.ReceiveAsync());
    }

    [Fact]
    public async Task Repeated_status_and_stopping_are_sent_once()
    {
        using var systemd = new NotifySocketListener();
        using var notifier = new SystemdNotifier(systemd.Address);
        var status = Status(notifier);
        status.ReportStatus("a");
        status.ReportStatus("a");
        status.ReportStopping();
        status.ReportStopping();
        status.ReportStatus("b");

        Assert.Equal("STATUS=a", await systemd.ReceiveAsync());
        Assert.StartsWith("STOPPING=1\n", await systemd.ReceiveAsync());
        Assert.Equal("STATUS=b", await systemd.ReceiveAsync()); // nothing in between
    }

    [Fact]
    public void Without_NOTIFY_SOCKET_notifications_are_no_ops()
    {
        using var notifier = new SystemdNotifier(null);
        Assert.False(notifier.IsEnabled);
        Assert.False(notifier.Notify("READY=1"));
        Status(notifier).ReportReady("running"); // must not throw
    }

    [Fact]
    public void A_notify_socket_nobody_listens_on_is_reported_not_thrown()
    {
        using var dir = new TempDirectory();
        using var notifier = new SystemdNotifier(dir.Combine("gone.sock"));
        Assert.True(notifier.IsEnabled);
        Assert.False(notifier.Notify("READY=1"));
    }

    [Theory]
    [InlineData("30000000", null, 30.0)]
    [InlineData("30000000", "OWN", 30.0)]
    [InlineData("30000000", "1", null)]     // pid 1 is not us: a variable inherited from a parent
    [InlineData("30000000", "abc", null)]
    [InlineData("0", null, null)]
    [InlineData("soon", null, null)]
    [InlineData(null, null, null)]
    public void The_watchdog_applies_only_with_WATCHDOG_USEC_and_our_own_WATCHDOG_PID(string? usec, string? pid, double? seconds)
    {
        var vars = new Dictionary<string, string?> { ["WATCHDOG_USEC"] = usec, ["WATCHDOG_PID"] = pid == "OWN" ? "4242" : pid };
        var env = SystemdEnvironment.Read(k => vars.GetValueOrDefault(k), processId: 4242);
        Assert.Equal(seconds, env.WatchdogInterval?.TotalSeconds);
    }
}
