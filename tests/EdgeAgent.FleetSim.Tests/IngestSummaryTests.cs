using EdgeAgent.FleetSim.Devices;
using EdgeAgent.FleetSim.Measurement;
using Xunit;

namespace EdgeAgent.FleetSim.Tests;

public sealed class IngestSummaryTests
{
    private const string Boot = "b1";

    private static DeviceReport Device(string id, params CommitRecord[] commits) =>
        new(id, Boot, commits, 0, 0, 0, "Connected");

    [Fact]
    public void Lag_is_measured_from_the_commit_of_the_range_holding_each_seq()
    {
        var devices = new[] { Device("d1", new CommitRecord(Boot, 1, 2, 0, 1_000), new CommitRecord(Boot, 3, 3, 0, 2_000)) };
        var rows = new[] { new StoredRow("d1", Boot, 1, 1_010), new StoredRow("d1", Boot, 2, 1_030), new StoredRow("d1", Boot, 3, 2_100) };

        var s = IngestSummary.Compute(devices, rows, 0, 10_000, TimeSpan.FromSeconds(10));

        Assert.True(s.ExactlyOnce);
        Assert.Equal(3, s.Committed);
        Assert.Equal(30, s.LagP50Ms);
        Assert.Equal(100, s.LagMaxMs);
    }

    [Fact]
    public void A_committed_event_the_hub_lacks_is_missing_and_a_row_nobody_committed_is_unexpected()
    {
        var devices = new[] { Device("d1", new CommitRecord(Boot, 1, 3, 0, 1_000)) };
        var rows = new[] { new StoredRow("d1", Boot, 1, 1_010), new StoredRow("d1", Boot, 3, 1_010), new StoredRow("d1", Boot, 9, 1_010) };

        var s = IngestSummary.Compute(devices, rows, 0, 10_000, TimeSpan.FromSeconds(10));

        Assert.False(s.ExactlyOnce);
        Assert.Equal(1, s.Missing);
        Assert.Equal(1, s.Unexpected);
    }

    [Fact]
    public void Rows_of_an_earlier_boot_of_the_same_device_are_not_this_runs_business()
    {
        var devices = new[] { Device("d1", new CommitRecord(Boot, 1, 1, 0, 1_000)) };
        var rows = new[] { new StoredRow("d1", Boot, 1, 1_005), new StoredRow("d1", "older-boot", 1, 5) };

        var s = IngestSummary.Compute(devices, rows, 0, 10_000, TimeSpan.FromSeconds(10));

        Assert.True(s.ExactlyOnce);
        Assert.Equal(1, s.Stored);
    }

    [Fact]
    public void Nearest_rank_percentiles()
    {
        double[] v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        Assert.Equal(5, IngestSummary.Percentile(v, 0.5));
        Assert.Equal(10, IngestSummary.Percentile(v, 0.99));
        Assert.Equal(0, IngestSummary.Percentile([], 0.5));
    }
}
