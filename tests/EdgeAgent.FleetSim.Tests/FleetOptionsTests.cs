using EdgeAgent.FleetSim.Fleet;
using Xunit;

namespace EdgeAgent.FleetSim.Tests;

public sealed class FleetOptionsTests
{
    [Fact]
    public void Two_hub_instances_on_sqlite_are_refused_with_the_reason()
    {
        var problem = Assert.Single(new FleetOptions { Devices = 10, HubInstances = 2 }.Validate());
        Assert.Contains("--start-hub postgres", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_bad_setting_is_named_at_once()
    {
        var problems = new FleetOptions { Devices = 0, SampleRateHz = -1, Duration = TimeSpan.Zero, HubInstances = 0, Workers = -1 }.Validate();
        Assert.Equal(5, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("--devices", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("--rate", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("--duration", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("--hub-instances", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("--workers -1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_run_with_bad_options_starts_nothing_and_says_why()
    {
        var runner = new FleetRunner(new FleetOptions { Devices = 5, Workers = 6 }, TextWriter.Null);
        var e = await Assert.ThrowsAsync<FleetConfigurationException>(() => runner.RunAsync(CancellationToken.None));
        Assert.Contains("--workers 6", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Workers_default_to_one_per_500_devices()
    {
        Assert.Equal(1, new FleetOptions { Devices = 300 }.EffectiveWorkers);
        Assert.Equal(2, new FleetOptions { Devices = 1000 }.EffectiveWorkers);
        Assert.Equal(3, new FleetOptions { Devices = 1001 }.EffectiveWorkers);
        Assert.Equal(4, new FleetOptions { Devices = 1000, Workers = 4 }.EffectiveWorkers);
    }
}
