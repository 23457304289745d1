using EdgeAgent.Chaos.Harness;
using Xunit;
using Xunit.Abstractions;

namespace EdgeAgent.Chaos.Tests;

/// <summary>
/// The CI form of the chaos suite (docs/CHAOS.md): every scenario once, short, against the real
/// processes. A test passes only when the scenario's verdict is PASS; the verdict line and, on
/// failure, the kept log directory are in the test output. Seeds are fixed so a CI failure replays
/// with <c>dotnet EdgeAgent.Chaos.dll --scenario NAME --short --seed 20261122</c>.
/// </summary>
[Collection(ChaosCollection.Name)]
public sealed class ChaosScenarioTests(ITestOutputHelper output)
{
    private const int Seed = 20261122;

    private async Task AssertPassesAsync(string scenario)
    {
        var entry = ScenarioCatalog.Find(scenario);
        using var console = new StringWriter();
        var verdict = await ChaosRunner.RunAsync(entry.Scenario, Seed, entry.ShortRounds, isShort: true, ChaosLogPolicy.Default(), console);
        output.WriteLine(console.ToString());
        output.WriteLine(verdict.Line);
        Assert.True(verdict.Passed, verdict.Line + "\n" + string.Join("\n", verdict.Problems));
    }

    [Fact]
    public Task A_broker_killed_under_load_loses_nothing_and_the_agent_reconnects_by_itself() => AssertPassesAsync("broker-kill");

    [Fact]
    public Task A_broker_restarted_gracefully_loses_nothing_and_the_hub_keeps_receiving() => AssertPassesAsync("broker-restart");

    [Fact]
    public Task A_link_reset_or_blackholed_and_restored_loses_nothing() => AssertPassesAsync("network-cut");

    [Fact]
    public Task An_agent_killed_at_random_moments_keeps_every_committed_event_and_serves_again() => AssertPassesAsync("agent-sigkill");

    [Fact]
    public Task A_hub_killed_while_ingesting_receives_everything_after_its_restart() => AssertPassesAsync("hub-restart");

    [Fact]
    public Task A_full_state_directory_only_loses_tombstoned_telemetry_and_the_agent_keeps_running() => AssertPassesAsync("disk-full");

    [Fact]
    public Task Wall_clock_jumps_on_the_agent_lose_nothing_and_stall_nothing() => AssertPassesAsync("clock-jump");

    [Fact]
    public Task A_corrupted_mirror_is_refused_and_the_release_installs_once_the_mirror_heals() => AssertPassesAsync("corrupt-mirror");

    [Fact]
    public Task An_update_killed_at_random_moments_never_serves_a_torn_model_and_commits_after_restart() => AssertPassesAsync("update-sigkill");

    [Fact]
    public Task A_broker_killed_during_a_rollout_still_completes_it_and_every_device_commits_without_losing_events() => AssertPassesAsync("rollout-broker-kill");

    [Fact]
    public Task A_hub_killed_mid_rollout_resumes_it_after_restart_and_every_device_commits_without_losing_events() => AssertPassesAsync("rollout-hub-restart");

    [Fact]
    public Task A_rollout_through_a_corrupting_mirror_is_refused_on_the_devices_and_completes_once_the_mirror_heals() => AssertPassesAsync("rollout-corrupt-mirror");
}

/// <summary>Scenarios run one at a time: each starts brokers, hubs and agents, and CI has two cores.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ChaosCollection
{
    public const string Name = "chaos";
}
