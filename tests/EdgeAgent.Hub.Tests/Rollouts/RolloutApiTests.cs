using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using EdgeAgent.Hub.Rollouts;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.Hub.Tests.Releases;
using EdgeAgent.Telemetry.Wire;
using Xunit;
using static EdgeAgent.Hub.Tests.Rollouts.RolloutSetup;

namespace EdgeAgent.Hub.Tests.Rollouts;

/// <summary>
/// The rollout API on a real running hub with signing keys (Kestrel, SQLite, the hosted engine, the real
/// release signer): roles, shapes, refusals, audit.
/// </summary>
public sealed class RolloutApiTests : IAsyncLifetime
{
    private ReleaseHub _hub = null!;
    private const string Kws = ReleaseModels.Family;

    public async Task InitializeAsync()
    {
        _hub = await ReleaseHub.StartAsync();
        await _hub.RegisterAsync(ReleaseModels.V1, "1.0.0", 1);
        await _hub.RegisterAsync(ReleaseModels.V2, "1.1.0", 2);
        await RegisterReleaseAsync(_hub.Store, Kws, "1.2.0", 3); // registered, never published
        await _hub.Signer.PublishReleaseAsync(Kws, "1.0.0", "test", default);
        await _hub.Signer.PublishReleaseAsync(Kws, "1.1.0", "test", default);
        await DevicesAsync(_hub.Store, "mic", 8, new Dictionary<string, string> { ["ring"] = "canary", ["site"] = "lab" });
    }

    public async Task DisposeAsync() => await _hub.DisposeAsync();

    private static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    private const string Create = """
        {"id":"mic-canary","family":"vib-mlp","version":"1.1.0","cohort":{"ring":"canary"},
         "steps":[{"percent":25,"bakeSeconds":3600,"minDevices":2},{"percent":100,"bakeSeconds":3600,"minDevices":4}],
         "thresholds":{"maxRefusalRatio":0.25,"maxDriftPsi":null,"minPredictions":20}}
        """;

    [Fact]
    public async Task An_operator_creates_a_rollout_and_everyone_reads_its_steps_devices_health_and_thresholds_in_camel_case()
    {
        using var op = _hub.Client(_hub.OperatorToken);
        var created = await op.PostAsync("api/v1/rollouts", Body(Create));
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var body = JsonNode.Parse(await created.Content.ReadAsStringAsync())!;
        Assert.Equal(("mic-canary", "running", "models/vib-mlp/1.1.0.bundle", 2L), ((string)body["id"]!, (string)body["state"]!, (string)body["target"]!, (long)body["releaseCounter"]!));
        Assert.Equal(0.25, (double)body["thresholds"]!["maxRefusalRatio"]!);
        Assert.Null(body["thresholds"]!["maxDriftPsi"]); // disabled on purpose and kept disabled
        Assert.Equal(0.2, (double)body["thresholds"]!["maxFallbackRate"]!); // omitted: the default

        using var reader = _hub.Client(_hub.ReadOnlyToken);
        // The hosted engine was nudged by the API: the first step's devices get assigned without waiting for a tick.
        var detail = await Eventually.ValueAsync(async () => JsonNode.Parse(await reader.GetStringAsync("api/v1/rollouts/mic-canary"))!,
            d => (int)d["health"]!["assigned"]! == 2, "first step assigned");
        Assert.Equal(8, (int)detail["cohortSize"]!);
        var steps = detail["steps"]!.AsArray();
        Assert.Equal(("current", 2, 2), ((string)steps[0]!["status"]!, (int)steps[0]!["targetDevices"]!, (int)steps[0]!["assignedDevices"]!));
        Assert.Equal(("pending", 8), ((string)steps[1]!["status"]!, (int)steps[1]!["targetDevices"]!));
        Assert.Equal(2, (int)detail["deviceStates"]!["pending"]!);
        Assert.Equal("0 of 2 device(s) committed", (string)detail["waitingFor"]!);
        Assert.Equal(["created", "assigned"], detail["history"]!.AsArray().Select(h => (string)h!["action"]!));

        var list = JsonNode.Parse(await reader.GetStringAsync("api/v1/rollouts"))!.AsArray();
        var summary = Assert.Single(list)!;
        Assert.Equal((Kws, "1.1.0", 1, 2, 25.0), ((string)summary["family"]!, (string)summary["version"]!, (int)summary["step"]!, (int)summary["steps"]!, (double)summary["percent"]!));
    }

    [Fact]
    public async Task A_read_only_token_cannot_pause_and_the_refusal_is_audited_while_an_operator_can()
    {
        using var op = _hub.Client(_hub.OperatorToken);
        Assert.Equal(HttpStatusCode.Created, (await op.PostAsync("api/v1/rollouts", Body(Create))).StatusCode);
        using var reader = _hub.Client(_hub.ReadOnlyToken);
        var refused = await reader.PostAsync("api/v1/rollouts/mic-canary/pause", null);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Contains("this call needs operator", await refused.Content.ReadAsStringAsync());
        Assert.Equal(RolloutState.Running, (await _hub.Store.GetRolloutAsync("mic-canary"))!.State);

        var paused = await op.PostAsync("api/v1/rollouts/mic-canary/pause", Body("""{"reason":"waiting for the field team"}"""));
        Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
        Assert.Equal(("paused", "waiting for the field team"), ((string)JsonNode.Parse(await paused.Content.ReadAsStringAsync())!["state"]!,
            (await _hub.Store.GetRolloutAsync("mic-canary"))!.Reason));
        Assert.Equal(HttpStatusCode.OK, (await op.PostAsync("api/v1/rollouts/mic-canary/resume", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await op.PostAsync("api/v1/rollouts/mic-canary/promote", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await op.PostAsync("api/v1/rollouts/mic-canary/abort", Body("""{"reason":"wrong build"}"""))).StatusCode);
        var again = await op.PostAsync("api/v1/rollouts/mic-canary/resume", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Contains("rollout 'mic-canary' is aborted (wrong build); resume needs it paused", await again.Content.ReadAsStringAsync());

        var audit = await _hub.Store.ListAuditAsync(50);
        Assert.Contains(audit, a => a is { Action: "POST /api/v1/rollouts/mic-canary/pause", Status: 403 } && a.Actor.StartsWith("rel-reader"));
        Assert.Contains(audit, a => a is { Action: "POST /api/v1/rollouts/mic-canary/pause", Status: 200, Target: "mic-canary" } && a.Detail!.Contains("now paused"));
        Assert.Contains(audit, a => a is { Action: "POST /api/v1/rollouts/mic-canary/abort", Status: 200 } && a.Detail!.Contains("wrong build"));
        var history = (await _hub.Store.ListRolloutEventsAsync("mic-canary")).Select(e => e.Action).ToList();
        Assert.Equal(["paused", "resumed", "promoted", "aborted"], history.Where(a => a is not ("created" or "assigned" or "step")));
    }

    [Fact]
    public async Task Bad_requests_get_a_status_and_a_sentence_the_operator_can_act_on()
    {
        using var op = _hub.Client(_hub.OperatorToken);
        var notJson = await op.PostAsync("api/v1/rollouts", Body("{family: kws"));
        Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
        var badSteps = await op.PostAsync("api/v1/rollouts", Body("""{"family":"vib-mlp","version":"1.1.0","steps":[{"percent":0,"bakeSeconds":1,"minDevices":1}]}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, badSteps.StatusCode);
        Assert.Contains("step 1: percent 0 must be above", (string)JsonNode.Parse(await badSteps.Content.ReadAsStringAsync())!["error"]!);
        var unpublished = await op.PostAsync("api/v1/rollouts", Body("""{"family":"vib-mlp","version":"1.2.0"}"""));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, unpublished.StatusCode);
        Assert.Contains("registered but not published as a signed target; publish it with POST /api/v1/releases first", await unpublished.Content.ReadAsStringAsync());
        var old = await op.PostAsync("api/v1/rollouts", Body("""{"family":"vib-mlp","version":"1.0.0"}"""));
        Assert.Equal(HttpStatusCode.Created, old.StatusCode); // counter 1 is above the fleet's 0
        var twice = await op.PostAsync("api/v1/rollouts", Body(Create));
        Assert.Equal(HttpStatusCode.Conflict, twice.StatusCode);
        Assert.Contains("already has an active rollout", await twice.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await op.PostAsync("api/v1/rollouts/nope/pause", null)).StatusCode);
        using var reader = _hub.Client(_hub.ReadOnlyToken);
        Assert.Equal(HttpStatusCode.NotFound, (await reader.GetAsync("api/v1/rollouts/nope")).StatusCode);
        using var anonymous = _hub.Client();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("api/v1/rollouts")).StatusCode);
    }

    [Fact]
    public async Task A_device_update_history_is_served_newest_first_with_reasons_codes_and_metrics()
    {
        var fleet = new FleetReports(_hub.Store, TimeProvider.System);
        await fleet.UpdateAsync("mic-01", Kws, "1.1.0", 2, "refused", "release 1.1.0: p99 latency 9.1 ms over the budget 5 ms", "LatencyBudget");
        using var reader = _hub.Client(_hub.ReadOnlyToken);
        var updates = JsonNode.Parse(await reader.GetStringAsync("api/v1/devices/mic-01/updates"))!.AsArray();
        Assert.Equal(["refused", "validating", "verifying", "downloading"], updates.Select(u => (string)u!["to"]!));
        var refused = updates[0]!;
        Assert.Equal(("LatencyBudget", Kws, "1.1.0", 2L), ((string)refused["code"]!, (string)refused["family"]!, (string)refused["version"]!, (long)refused["releaseCounter"]!));
        Assert.Contains("p99 latency 9.1 ms", (string)refused["reason"]!);
        Assert.Equal(FleetReports.Boot("mic-01"), (string)refused["bootId"]!);
        Assert.Empty(JsonNode.Parse(await reader.GetStringAsync("api/v1/devices/nobody/updates"))!.AsArray());
        var openApi = await reader.GetStringAsync("openapi/v1.json");
        Assert.Contains("/api/v1/rollouts/{id}/abort", openApi);
        Assert.Contains("/api/v1/devices/{id}/updates", openApi);
    }
}

/// <summary>A hub without signing keys: it decides, but cannot publish; its assignments wait, visibly.</summary>
public sealed class RolloutWithoutSigningKeysTests
{
    [Fact]
    public async Task A_hub_that_cannot_sign_accepts_a_registered_release_and_shows_its_assignments_as_unpublished()
    {
        await using var hub = await RunningHub.StartAsync();
        await RegisterReleaseAsync(hub.Store, "kws", "1.0.0", 1);
        await DevicesAsync(hub.Store, "mic", 4, new Dictionary<string, string>());
        using var op = hub.Client(hub.OperatorToken);
        var created = await op.PostAsync("api/v1/rollouts", new StringContent("""{"id":"nokeys","family":"kws","version":"1.0.0"}""", Encoding.UTF8, "application/json"));
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        using var reader = hub.Client(hub.ReadOnlyToken);
        var detail = await Eventually.ValueAsync(async () => JsonNode.Parse(await reader.GetStringAsync("api/v1/rollouts/nokeys"))!,
            d => (int)d["health"]!["assigned"]! == 1, "first step decided");
        Assert.Equal(1, (int)detail["unpublished"]!);
        Assert.False((bool)detail["devices"]![0]!["published"]!);
    }
}
