using EdgeAgent.FleetSim.Devices;
using EdgeAgent.FleetSim.Fleet;
using Xunit;

namespace EdgeAgent.FleetSim.Tests;

public sealed class RolloutResultTests
{
    private static DeviceReport Device(string id, params UpdateTransition[] updates) =>
        new(id, "boot", [], 0, 0, 0, "Connected", updates);

    private static UpdateTransition T(string version, string to, long atMs, string? reason) => new(version, to, atMs, reason);

    private static RolloutResult Hub(string version) => new()
    {
        Version = version, State = "completed",
        Downloading = PhaseTiming.Of([]), Observing = PhaseTiming.Of([]), Committed = PhaseTiming.Of([]),
    };

    [Fact]
    public void Phase_times_count_from_the_rollout_start_and_only_for_its_release()
    {
        const long start = 1_000_000;
        var devices = new[]
        {
            Device("d1", T("1.0.0", "committed", start - 5_000, null), T("2.0.0", "downloading", start + 500, null),
                T("2.0.0", "observing", start + 1_000, null), T("2.0.0", "committed", start + 31_000, null)),
            Device("d2", T("2.0.0", "downloading", start + 700, null), T("2.0.0", "observing", start + 2_000, null),
                T("2.0.0", "committed", start + 32_000, null)),
            // Never got there: counted out of the phases it missed.
            Device("d3", T("2.0.0", "downloading", start + 900, null)),
        };

        var r = Hub("2.0.0").WithDevices(devices, start);

        Assert.Equal(new PhaseTiming(3, 0.7, 0.9, 0.9), r.Downloading);
        Assert.Equal(new PhaseTiming(2, 1.0, 2.0, 2.0), r.Observing);
        Assert.Equal(new PhaseTiming(2, 31.0, 32.0, 32.0), r.Committed);
        Assert.Equal(0, r.RolledBack + r.Refused);
        Assert.Null(r.FirstDeviceProblem);
    }

    [Fact]
    public void Rollbacks_and_refusals_are_counted_with_the_first_reason()
    {
        const long start = 50_000;
        var devices = new[]
        {
            Device("d1", T("2.0.0", "rolled-back", start + 40_000, "outputs collapsed")),
            Device("d2", T("2.0.0", "refused", start + 1_000, "hash mismatch")),
            // Before this rollout, another release, or after the next rollout began: not its business.
            Device("d3", T("2.0.0", "refused", start - 1, "earlier"), T("1.0.0", "refused", start + 5, "counter"),
                T("2.0.0", "rolled-back", start + 90_000, "later")),
        };

        var r = Hub("2.0.0").WithDevices(devices, start, untilMs: start + 60_000);

        Assert.Equal(1, r.RolledBack);
        Assert.Equal(1, r.Refused);
        Assert.Equal("d1 rolled-back 2.0.0: outputs collapsed", r.FirstDeviceProblem);
        Assert.Equal(0, r.Committed.Devices);
    }

    [Fact]
    public void The_sized_release_has_about_the_requested_bytes_and_the_first_release_is_small()
    {
        var sized = FleetReleases.Sized(1_000_000, 10);
        Assert.InRange(sized.Onnx.Length, 950_000, 1_100_000);
        Assert.Equal("2.0.0", sized.Version);
        Assert.True(FleetReleases.First(10).Onnx.Length < 50_000);
    }

    [Fact]
    public void Bad_rollout_settings_are_named()
    {
        var problems = new FleetOptions { Devices = 5, RolloutModelBytes = -1, ObserveMinCalls = 0, ObserveWindow = TimeSpan.Zero }.Validate();
        Assert.Contains(problems, p => p.StartsWith("--rollout-bytes -1", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("--observe-min-calls 0", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("--observe-window", StringComparison.Ordinal));
        Assert.Contains(new FleetOptions { Devices = 5, EnginePerDevice = true }.Validate(), p => p.StartsWith("--engine-per-device", StringComparison.Ordinal));
        Assert.Empty(new FleetOptions { Devices = 5, EnginePerDevice = true, RolloutModelBytes = 0 }.Validate());
    }
}
