using EdgeAgent.Hosting.Systemd;
using EdgeAgent.Hosting.Tests.Support;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeAgent.Hosting.Tests.Systemd;

public sealed class WatchdogTests
{
    private sealed class Rig : IDisposable
    {
        public NotifySocketListener Systemd { get; } = new();
        public ManualTimeProvider Time { get; } = new();
        public SystemdNotifier Notifier { get; }
        public LivenessMonitor Monitor { get; }
        public WatchdogService Watchdog { get; }

        public Rig(string? watchdogPid = null)
        {
            Notifier = new SystemdNotifier(Systemd.Address);
            Monitor = new LivenessMonitor(Time);
            var vars = new Dictionary<string, string?> { ["NOTIFY_SOCKET"] = Systemd.Address, ["WATCHDOG_USEC"] = "10000000", ["WATCHDOG_PID"] = watchdogPid };
            Watchdog = new WatchdogService(SystemdEnvironment.Read(k => vars.GetValueOrDefault(k)), Notifier, Monitor,
                new ServiceStatus(Notifier, NullLogger<ServiceStatus>.Instance), NullLogger<WatchdogService>.Instance);
        }

        public void Dispose()
        {
            Watchdog.Dispose();
            Notifier.Dispose();
            Systemd.Dispose();
        }
    }

    [Fact]
    public void Pings_at_half_of_WATCHDOG_USEC()
    {
        using var rig = new Rig();
        Assert.Equal(TimeSpan.FromSeconds(5), rig.Watchdog.PingInterval);
    }

    [Fact]
    public async Task Stops_pinging_while_a_liveness_source_stalls_and_resumes_when_it_beats_again()
    {
        using var rig = new Rig();
        var pipeline = rig.Monitor.Register("pipeline", TimeSpan.FromSeconds(10));
        var mqtt = rig.Monitor.Register("mqtt", TimeSpan.FromSeconds(30));

        Assert.True(rig.Watchdog.Tick());
        Assert.Equal("WATCHDOG=1", await rig.Systemd.ReceiveAsync());

        rig.Time.Advance(TimeSpan.FromSeconds(11)); // pipeline silent past its limit; mqtt still within
        Assert.Equal(["pipeline"], rig.Monitor.StalledSources());
        Assert.False(rig.Watchdog.Tick());
        Assert.False(rig.Watchdog.Tick());
        Assert.Equal("STATUS=stalled: pipeline", await rig.Systemd.ReceiveAsync());

        pipeline.Beat();
        rig.Time.Advance(TimeSpan.FromSeconds(20)); // now mqtt (31 s) is stalled, pipeline (20 s) too
        Assert.False(rig.Watchdog.Tick());
        pipeline.Beat();
        mqtt.Beat();
        Assert.True(rig.Watchdog.Tick());
        // Only the resumed ping follows: no WATCHDOG=1 was sent while stalled.
        Assert.Equal("WATCHDOG=1", await rig.Systemd.ReceiveAsync());
        Assert.Equal(2, rig.Watchdog.PingsSent);
    }

    [Fact]
    public void No_ping_is_sent_before_the_first_liveness_source_registers()
    {
        using var rig = new Rig();
        Assert.False(rig.Watchdog.Tick());
        Assert.False(rig.Watchdog.Tick());
        Assert.Equal(0, rig.Watchdog.PingsSent);
        using var pipeline = rig.Monitor.Register("pipeline", TimeSpan.FromSeconds(10));
        Assert.True(rig.Watchdog.Tick());
    }

    [Fact]
    public void A_disposed_source_no_longer_counts()
    {
        using var rig = new Rig();
        var oneShot = rig.Monitor.Register("migration", TimeSpan.FromSeconds(1));
        rig.Time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(rig.Watchdog.Tick());
        oneShot.Dispose();
        Assert.True(rig.Watchdog.Tick());
    }

    [Fact]
    public void WATCHDOG_PID_of_another_process_disables_the_watchdog()
    {
        using var rig = new Rig(watchdogPid: (Environment.ProcessId + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Null(rig.Watchdog.PingInterval);
    }

    [Fact]
    public async Task The_running_service_feeds_the_watchdog_on_its_own()
    {
        using var systemd = new NotifySocketListener();
        using var notifier = new SystemdNotifier(systemd.Address);
        var monitor = new LivenessMonitor(TimeProvider.System);
        using var source = monitor.Register("pipeline", TimeSpan.FromHours(1));
        var env = new SystemdEnvironment(systemd.Address, TimeSpan.FromMilliseconds(100));
        using var watchdog = new WatchdogService(env, notifier, monitor, new ServiceStatus(notifier, NullLogger<ServiceStatus>.Instance), NullLogger<WatchdogService>.Instance);
        await watchdog.StartAsync(CancellationToken.None);
        Assert.Equal("WATCHDOG=1", await systemd.ReceiveAsync());
        Assert.Equal("WATCHDOG=1", await systemd.ReceiveAsync());
        await watchdog.StopAsync(CancellationToken.None);
    }

    [Fact]
    public void Beat_does_not_allocate()
    {
        var monitor = new LivenessMonitor(TimeProvider.System);
        var source = monitor.Register("pipeline", TimeSpan.FromSeconds(1));
        source.Beat();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++) source.Beat();
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
