using System.Text.Json.Nodes;
using EdgeAgent.Hub.Rollouts;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Hub.Tests.Releases;
using EdgeAgent.TestSupport.Mosquitto;
using Xunit;

namespace EdgeAgent.Hub.Tests.Rollouts;

/// <summary><c>edgehub rollouts …</c> as a child process on the store of a running hub, whose engine picks the changes up.</summary>
public sealed class RolloutCliTests : IAsyncLifetime
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "edgehub.dll");
    private ReleaseHub _hub = null!;

    public async Task InitializeAsync()
    {
        // A short tick: the CLI writes the store only, the running hub notices at its next tick.
        _hub = await ReleaseHub.StartAsync(tweak: o => o with { RolloutTickInterval = TimeSpan.FromMilliseconds(300) });
        await _hub.RegisterAsync(ReleaseModels.V1, "1.0.0", 1);
        await _hub.Signer.PublishReleaseAsync(ReleaseModels.Family, "1.0.0", "test", default);
        await RolloutSetup.DevicesAsync(_hub.Store, "cli", 4, new Dictionary<string, string> { ["ring"] = "cli" });
    }

    public async Task DisposeAsync() => await _hub.DisposeAsync();

    private Task<ChildProcess.Result> Edgehub(params string[] args) =>
        ChildProcess.RunAsync("dotnet", [Dll, "rollouts", .. args, "--store", _hub.Options.Store], timeout: TimeSpan.FromMinutes(1));

    [Fact]
    public async Task An_operator_creates_pauses_shows_and_aborts_a_rollout_from_the_command_line_and_the_running_hub_acts_on_it()
    {
        var created = await Edgehub("create", "--family", "vib-mlp", "--version", "1.0.0", "--id", "cli-1", "--cohort", "ring=cli",
            "--steps", "50,100", "--bake-seconds", "0", "--min-devices", "1", "--max-drift-psi", "off");
        Assert.True(created.ExitCode == 0, created.StandardError);
        Assert.Equal("cli-1", created.StandardOutput.Trim());
        var stored = (await _hub.Store.GetRolloutAsync("cli-1"))!;
        Assert.Null(stored.Thresholds.MaxDriftPsi);
        Assert.Equal([50.0, 100.0], stored.Steps.Select(s => s.Percent));

        await Eventually.ValueAsync(async () => (await _hub.Store.ListRolloutDevicesAsync("cli-1")).Count(d => d.Published), n => n == 2, "the hub assigned and signed the first step");

        var paused = await Edgehub("pause", "cli-1", "--reason", "maintenance window");
        Assert.True(paused.ExitCode == 0, paused.StandardError);
        Assert.Contains("rollout cli-1: paused, step 1/2", paused.StandardOutput);
        var again = await Edgehub("pause", "cli-1");
        Assert.Equal(1, again.ExitCode);
        Assert.Equal("edgehub rollouts pause: rollout 'cli-1' is paused (maintenance window); pause needs it running", again.StandardError.Trim());

        var show = await Edgehub("show", "cli-1");
        Assert.Equal(0, show.ExitCode);
        Assert.Contains("rollout cli-1: vib-mlp@1.0.0 (counter 1) paused, step 1/2", show.StandardOutput);
        Assert.Contains("reason: maintenance window", show.StandardOutput);
        Assert.Contains("pending 2", show.StandardOutput);
        var list = JsonNode.Parse((await Edgehub("list", "--json")).StandardOutput)!.AsArray();
        Assert.Equal(("cli-1", "paused"), ((string)list.Single()!["id"]!, (string)list.Single()!["state"]!));

        var aborted = await Edgehub("abort", "cli-1", "--reason", "wrong cohort");
        Assert.True(aborted.ExitCode == 0, aborted.StandardError);
        await Eventually.ValueAsync(async () => await _hub.Store.ListRolloutDevicesAsync("cli-1"),
            d => d.All(x => x is { Action: RolloutDeviceAction.Reverted, Published: true }), "the hub signed the reverts");

        var audit = await _hub.Store.ListAuditAsync(20);
        Assert.Contains(audit, a => a is { Action: "rollouts create", Target: "cli-1" } && a.Actor.StartsWith("cli ("));
        Assert.Contains(audit, a => a is { Action: "rollouts pause", Status: 1 } && a.Detail!.Contains("pause needs it running"));
        Assert.Contains(audit, a => a is { Action: "rollouts abort", Status: 0, Detail: "wrong cohort" });
    }

    [Fact]
    public async Task Bad_options_are_one_line_each_with_exit_code_1_and_nothing_is_created()
    {
        var cohort = await Edgehub("create", "--family", "vib-mlp", "--version", "1.0.0", "--cohort", "ring");
        Assert.Equal((1, "edgehub rollouts create: --cohort 'ring' is not KEY=VALUE"), (cohort.ExitCode, cohort.StandardError.Trim()));
        var ratio = await Edgehub("create", "--family", "vib-mlp", "--version", "1.0.0", "--max-refusal-ratio", "lots");
        Assert.Equal((1, "edgehub rollouts create: --max-refusal-ratio 'lots' is neither a number nor 'off'"), (ratio.ExitCode, ratio.StandardError.Trim()));
        var steps = await Edgehub("create", "--family", "vib-mlp", "--version", "1.0.0", "--steps", "10,50");
        Assert.Equal(1, steps.ExitCode);
        Assert.Contains("the last step must be 100 percent, not 50", steps.StandardError);
        var missing = await Edgehub("show", "nope");
        Assert.Equal((1, "edgehub rollouts show: rollout 'nope' does not exist; see 'edgehub rollouts list'"), (missing.ExitCode, missing.StandardError.Trim()));
        Assert.Empty(await _hub.Store.ListRolloutsAsync());
    }
}
