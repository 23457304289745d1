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
    public async Task Every_event_twenty_devices_commit_is_stored_by_the_hub_exactly_once_with_its_ingest_lag()
    {
        var r = await RunAsync(new FleetOptions { Devices = 20, Duration = TimeSpan.FromSeconds(15), DriftSnapshotInterval = TimeSpan.FromSeconds(5) });

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
            DriftSnapshotInterval = TimeSpan.FromSeconds(5),
        });

        Assert.True(r.Ingest.ExactlyOnce, $"missing {r.Ingest.Missing}, unexpected {r.Ingest.Unexpected}");
        Assert.True(r.Ingest.Committed > 0);
        Assert.NotNull(r.DeliveriesByHub);
        Assert.Equal(["edgehub-1", "edgehub-2"], r.DeliveriesByHub.Keys.Order());
        Assert.All(r.DeliveriesByHub.Values, n => Assert.True(n > 0, $"an instance got nothing: {string.Join(", ", r.DeliveriesByHub)}"));
        Assert.Equal(2, r.Processes.Count(p => p.Name.StartsWith("edgehub-", StringComparison.Ordinal)));
    }
}
