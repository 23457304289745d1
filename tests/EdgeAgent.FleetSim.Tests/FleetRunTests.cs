using EdgeAgent.FleetSim.Fleet;
using Xunit;
using Xunit.Abstractions;

// Each run starts a broker, hub processes and a worker process: one at a time on a shared 2-core machine.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace EdgeAgent.FleetSim.Tests;

/// <summary>Short fleet runs end to end: worker process → Mosquitto → edgehub process(es) → store.</summary>
public sealed class FleetRunTests(ITestOutputHelper output)
{
    private sealed class OutputWriter(ITestOutputHelper output) : StringWriter
    {
        public override void WriteLine(string? value) => output.WriteLine(value ?? "");
    }

    private Task<FleetResult> RunAsync(FleetOptions options) =>
        new FleetRunner(options, new OutputWriter(output)).RunAsync(CancellationToken.None);

    [Fact]
    public async Task Twenty_devices_install_from_nothing_take_a_1_MB_rollout_and_every_event_is_stored_exactly_once_with_its_ingest_lag()
    {
        var r = await RunAsync(new FleetOptions
        {
            Devices = 20, Duration = TimeSpan.FromSeconds(15), DriftSnapshotInterval = TimeSpan.FromSeconds(5),
            RolloutModelBytes = 1_000_000, ObserveWindow = TimeSpan.FromSeconds(5), ObserveMinCalls = 2,
        });

        // First install: every device went from no model to 1.0.0 committed, through the hub's rollout.
        Assert.NotNull(r.FirstInstall);
        Assert.Equal("completed", r.FirstInstall.State);
        Assert.Equal(20, r.FirstInstall.Committed.Devices);
        // The measured rollout: a signed bundle of about 1 MB, activated and committed on all 20 while telemetry flowed.
        Assert.NotNull(r.Rollout);
        Assert.True(r.Rollout.State == "completed", $"rollout {r.Rollout.State}: {r.Rollout.Reason} {r.Rollout.FirstDeviceProblem}");
        Assert.InRange(r.Rollout.BundleBytes, 1_000_000, 1_300_000);
        Assert.Equal(20, r.Rollout.TargetDevices);
        Assert.Equal(20, r.Rollout.CommittedDevicesAtHub);
        Assert.Equal(20, r.Rollout.Committed.Devices);
        Assert.Equal(0, r.Rollout.RolledBack + r.Rollout.Refused);
        // Each device went through the phases in order, and the health window (5 s) came between activation and commit.
        Assert.True(r.Rollout.Downloading.MaxSeconds <= r.Rollout.Observing.MaxSeconds, "downloading after observing");
        Assert.True(r.Rollout.Committed.P50Seconds >= 5, $"committed {r.Rollout.Committed.P50Seconds} s after the start: before the 5 s health window");
        Assert.All(r.DeviceReports, d => Assert.Contains(d.Updates!, t => t.Version == "2.0.0" && t.To == "committed"));

        Assert.True(r.AllDrained, "every device's outbox drained after sensing stopped");
        Assert.Equal(20, r.DeviceReports.Count);
        Assert.All(r.DeviceReports, d => Assert.True(d.Commits.Count > 0, $"{d.Id} committed nothing"));
        Assert.Equal(0, r.Ingest.Missing);
        Assert.Equal(0, r.Ingest.Unexpected);
        Assert.Equal(r.Ingest.Committed, r.Ingest.Stored);
        Assert.Equal(0, r.Ingest.DroppedOnDevice);
        Assert.Equal(0, r.GapsRecorded);
        Assert.True(r.RejectedTelemetryMessages == 0, r.FirstRejection);
        // Every stored event has a lag measured against its own commit, and the hub stores after the commit.
        Assert.True(r.Ingest.LagP50Ms >= 0 && r.Ingest.LagMaxMs >= r.Ingest.LagP99Ms, $"lag p50 {r.Ingest.LagP50Ms} p99 {r.Ingest.LagP99Ms} max {r.Ingest.LagMaxMs}");
        // 20 devices + the hub + the $SYS watcher were connected at once.
        Assert.True(r.BrokerConnectionsPeak >= 22, $"broker saw at most {r.BrokerConnectionsPeak} connections");
        var hub = Assert.Single(r.Processes, p => p.Name == "edgehub-1");
        Assert.True(hub.RssMbPeak > 0 && hub.CpuPercentMean > 0, $"hub usage not measured: {hub}");
    }

    [Fact]
    public async Task Two_hub_instances_on_postgres_split_one_shared_subscription_and_store_each_event_once()
    {
        var r = await RunAsync(new FleetOptions
        {
            Devices = 20, Duration = TimeSpan.FromSeconds(12), Store = HubStoreKind.Postgres, HubInstances = 2,
            DriftSnapshotInterval = TimeSpan.FromSeconds(5), RolloutModelBytes = 0,
        });

        // Without releases every device serves the built-in model from the start.
        Assert.Null(r.Rollout);
        Assert.All(r.DeviceReports, d => Assert.True(d.Windows > 0, $"{d.Id} served nothing"));

        Assert.True(r.Ingest.ExactlyOnce, $"missing {r.Ingest.Missing}, unexpected {r.Ingest.Unexpected}");
        Assert.True(r.Ingest.Committed > 0);
        Assert.NotNull(r.DeliveriesByHub);
        Assert.Equal(["edgehub-1", "edgehub-2"], r.DeliveriesByHub.Keys.Order());
        Assert.All(r.DeliveriesByHub.Values, n => Assert.True(n > 0, $"an instance got nothing: {string.Join(", ", r.DeliveriesByHub)}"));
        Assert.Equal(2, r.Processes.Count(p => p.Name.StartsWith("edgehub-", StringComparison.Ordinal)));
    }
}
