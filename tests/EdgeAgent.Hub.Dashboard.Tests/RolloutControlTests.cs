using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeAgent.Hub.Dashboard.Tests.Fixtures;
using EdgeAgent.Telemetry.Wire;
using Xunit;

namespace EdgeAgent.Hub.Dashboard.Tests;

/// <summary>The rollout page against the hub's real rollout API: progress shown, and its controls change the rollout.</summary>
[Collection(DashboardBrowserCollection.Name)]
public sealed class RolloutControlTests(DashboardBrowserFixture fixture) : BrowserTest(fixture)
{
    private SeededHub Hub => Fixture.Hub;

    /// <summary>The seed's model family has at most one active rollout: created once, shared by the tests here.</summary>
    private static readonly SemaphoreSlim CreateLock = new(1, 1);
    private static string? _rolloutId;

    private async Task<string> RolloutAsync()
    {
        await CreateLock.WaitAsync();
        try
        {
            if (_rolloutId is not null) return _rolloutId;
            using var op = Hub.Hub.Client(Hub.Hub.OperatorToken);
            var body = new JsonObject
            {
                ["id"] = "vib-north-1",
                ["family"] = SeededHub.Model,
                ["version"] = SeededHub.Version,
                ["cohort"] = new JsonObject { ["site"] = "north" },
                ["steps"] = new JsonArray(
                    new JsonObject { ["percent"] = 34, ["bakeSeconds"] = 3600, ["minDevices"] = 1 },
                    new JsonObject { ["percent"] = 100, ["bakeSeconds"] = 3600, ["minDevices"] = 1 }),
                // The seed moved feature x1 by 1.2 σ (PSI ≈ 1.4): with the default limit 0.25 the engine rightly halts
                // and rolls back as soon as a device commits. This test is about the controls, so the limit is wide.
                ["thresholds"] = new JsonObject { ["maxDriftPsi"] = 2.0 },
            };
            var r = await op.PostAsync("api/v1/rollouts", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
            Assert.True(r.StatusCode == HttpStatusCode.Created, await r.Content.ReadAsStringAsync());
            var id = (string)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["id"]!;
            // press-01 reports the update state machine's last transitions, as its agent would on edgeagent/v1/press-01/update.
            var t = DateTimeOffset.UtcNow;
            WireEvent Transition(long seq, string from, string to) => new(seq, t.AddSeconds(seq), 0, TelemetryEventKind.Data, Encoding.UTF8.GetBytes(new JsonObject
            {
                ["family"] = SeededHub.Model, ["version"] = SeededHub.Version, ["releaseCounter"] = 1, ["from"] = from, ["to"] = to,
            }.ToJsonString()), true);
            await Hub.IngestAsync("press-01", TelemetryStream.Update, new string('c', 32),
                [Transition(1, "idle", "downloading"), Transition(2, "downloading", "verifying"), Transition(3, "activating", "observing"), Transition(4, "observing", "committed")]);
            return _rolloutId = id;
        }
        finally
        {
            CreateLock.Release();
        }
    }

    private async Task<string> StateAsync(string id)
    {
        using var reader = Hub.Hub.Client(Hub.Hub.ReadOnlyToken);
        return (string)JsonNode.Parse(await reader.GetStringAsync($"api/v1/rollouts/{id}"))!["state"]!;
    }

    private Task OpenRolloutsAsync(string token) => OpenAsync(Hub.BaseAddress, "#/rollouts", "rollouts", token);

    [Fact]
    public async Task Pause_and_resume_buttons_change_the_rollout_through_the_api()
    {
        var id = await RolloutAsync();
        await OpenRolloutsAsync(Hub.Hub.OperatorToken);
        await Page.WaitForAsync($"document.querySelector(\"section.rollout[data-rollout='{id}'][data-state='running']\") !== null", "the running rollout");
        var text = await Page.TextAsync($"section.rollout[data-rollout='{id}']");
        Assert.Contains($"{SeededHub.Model}@{SeededHub.Version}", text);
        Assert.Contains("step 1 of 2", text);
        Assert.Contains("site=north", text);
        Assert.Contains("Health vs thresholds", text);
        await Page.WaitForAsync($"document.querySelector(\"section.rollout[data-rollout='{id}']\").innerText.includes('committed')", "press-01's committed update counted");

        await ClickAsync($"button[data-action='pause'][data-rollout='{id}']");
        await Page.WaitForAsync($"document.querySelector(\"section.rollout[data-rollout='{id}'][data-state='paused']\") !== null", "the paused rollout");
        Assert.Equal("paused", await StateAsync(id));
        Assert.Contains("pause from the dashboard", await Page.TextAsync($"section.rollout[data-rollout='{id}']"));
        Assert.Equal(1, await CountAsync($"button[data-action='resume'][data-rollout='{id}']"));
        await ScreenshotAsync("rollouts");

        await ClickAsync($"button[data-action='resume'][data-rollout='{id}']");
        await Page.WaitForAsync($"document.querySelector(\"section.rollout[data-rollout='{id}'][data-state='running']\") !== null", "the resumed rollout");
        Assert.Equal("running", await StateAsync(id));

        using var admin = Hub.Hub.Client(Hub.Hub.AdminToken);
        var audit = JsonNode.Parse(await admin.GetStringAsync("api/v1/audit?limit=50"))!.AsArray();
        Assert.Contains(audit, a => (string)a!["action"]! == $"POST /api/v1/rollouts/{id}/pause" && ((string)a["actor"]!).StartsWith("test-operator", StringComparison.Ordinal));
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task Metrics_report_the_active_rollouts_state_step_and_target()
    {
        var id = await RolloutAsync();
        using var http = Hub.Hub.Client(null);
        var m = Metrics.PrometheusExposition.Parse(await http.GetStringAsync("metrics"));
        double One(string family, params (string Name, string Value)[] labels) =>
            m[family].Samples.Single(s => s.Label("rollout") == id && labels.All(l => s.Label(l.Name) == l.Value)).Value;
        Assert.Equal(1, m["edgehub_rollouts"].Samples.Single(s => s.Label("state") == "running").Value);
        Assert.Equal(1, One("edgehub_rollout_state", ("state", "running")));
        Assert.Equal(0, One("edgehub_rollout_state", ("state", "halted")));
        Assert.Equal((1, 2, 0.34), (One("edgehub_rollout_step"), One("edgehub_rollout_steps"), One("edgehub_rollout_target_ratio")));
        Assert.Equal(SeededHub.Model, m["edgehub_rollout_step"].Samples.Single(s => s.Label("rollout") == id).Label("family"));
    }

    [Fact]
    public async Task A_read_only_token_sees_the_rollout_but_no_controls()
    {
        var id = await RolloutAsync();
        await OpenRolloutsAsync(Hub.Hub.ReadOnlyToken);
        await Page.WaitForAsync($"document.querySelector(\"section.rollout[data-rollout='{id}']\") !== null", "the rollout");
        Assert.Equal(0, await CountAsync("button[data-action]"));
        Assert.Contains("read-only token: controls hidden", await Page.TextAsync($"section.rollout[data-rollout='{id}']"));
        AssertNoConsoleErrors();
    }
}
