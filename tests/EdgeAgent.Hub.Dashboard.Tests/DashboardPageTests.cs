using System.Net;
using System.Text;
using System.Text.Json;
using EdgeAgent.Hub.Dashboard.Tests.Fixtures;
using Xunit;

namespace EdgeAgent.Hub.Dashboard.Tests;

/// <summary>
/// Each dashboard page in real headless Chromium against a running, seeded hub: it loads without console
/// errors (exceptions, failed loads and CSP violations included), shows the hub's data, and the controls work.
/// </summary>
[Collection(DashboardBrowserCollection.Name)]
public sealed class DashboardPageTests(DashboardBrowserFixture fixture) : BrowserTest(fixture)
{
    private SeededHub Hub => Fixture.Hub;

    private Task OpenAsync(string hash, string page, string? token = null) => OpenAsync(Hub.BaseAddress, hash, page, token ?? Hub.Hub.OperatorToken);

    private async Task<string> MainTextAsync() => await Page.TextAsync("#main");

    /// <summary>Thousands with commas, as the page writes them (en-US).</summary>
    private static string N(long v) => v.ToString("N0", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task Signing_in_with_a_token_shows_the_fleet_overview_with_the_hubs_devices()
    {
        await Page.NavigateAsync(Hub.BaseAddress.ToString());
        await Page.WaitForAsync("document.getElementById('login-form') !== null", "the sign-in form");
        await SignInAsync(Hub.Hub.ReadOnlyToken);
        await Page.WaitForAsync("document.getElementById('main').dataset.page === 'fleet'", "the fleet page");

        var text = await MainTextAsync();
        foreach (var (id, _, _, _) in SeededHub.Devices) Assert.Contains(id, text);
        // Counted from the registry rows (another test may add a device while this one runs).
        var devices = await Hub.Hub.Store.ListDevicesAsync();
        Assert.Contains($"ONLINE\n{devices.Count(d => d.Online == true && d.RevokedAt is null)}", text);
        Assert.Contains($"OFFLINE\n{devices.Count(d => d.Online == false && d.RevokedAt is null)}", text);
        Assert.Contains("REVOKED\n1", text);
        Assert.Contains("test-reader (read-only)", await Page.TextAsync("#session"));
        Assert.Equal(1, await CountAsync($"a[href='#/devices/press-03']"));
        Assert.True(await CountAsync(".chart rect.bar") >= 4, "version, model and health bars are drawn");
        await ScreenshotAsync("fleet");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task The_fleet_page_refreshes_by_itself_when_a_device_reports()
    {
        await OpenAsync("#/", "fleet");
        const string id = "live-added-1";
        using var op = Hub.Hub.Client(Hub.Hub.OperatorToken);
        var r = await SeededHub.CreateDeviceAsync(op, id, "east");
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        await Hub.ReportStatusAsync(id, true, "1.1.0", SeededHub.ModelKey, "ok", DateTimeOffset.UtcNow);
        // No reload: the page polls the hub every few seconds.
        await Page.WaitForAsync($"document.getElementById('main').innerText.includes('{id}') && document.getElementById('main').innerText.includes('1.1.0')", "the new device on the fleet page");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task The_device_page_shows_reported_state_predictions_and_gaps()
    {
        await OpenAsync("#/devices/press-03", "devices");
        var text = await MainTextAsync();
        Assert.Contains("0.9.2", text);
        Assert.Contains("degraded", text);
        Assert.Contains(SeededHub.ModelKey, text);
        Assert.Contains("site=north", text);
        Assert.Contains(N(Hub.Predictions["press-03"]), text);
        Assert.True(await CountAsync(".chart path.series") >= 4, "prediction, fallback and latency lines are drawn");
        Assert.Contains("\"agentVersion\": \"0.9.2\"", await Page.TextAsync("pre"));
        await ScreenshotAsync("device");
        AssertNoConsoleErrors();

        await OpenAsync("#/devices/press-04", "devices");
        Assert.Contains("disk budget exceeded; oldest events dropped", await MainTextAsync());
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task The_models_page_lists_the_registered_model_and_releases()
    {
        await OpenAsync("#/models", "models");
        var text = await MainTextAsync();
        Assert.Contains(SeededHub.Model, text);
        Assert.Contains(SeededHub.Version, text);
        Assert.Equal(1, await CountAsync($"a[href='#/drift/{SeededHub.Model}/{SeededHub.Version}']"));
        Assert.Contains("Releases", text);
        await ScreenshotAsync("models");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task The_drift_page_draws_reference_and_current_distributions_and_psi_by_day()
    {
        await OpenAsync($"#/drift/{SeededHub.Model}/{SeededHub.Version}", "drift");
        var text = await MainTextAsync();
        Assert.Contains("x0", text);
        Assert.Contains("x1", text);
        // x1 moved 1.2 σ by the latest day: PSI well past 0.25; x0 did not move.
        var x1 = await Page.TextAsync("section.feature[data-feature='x1'] .feature-head");
        var x0 = await Page.TextAsync("section.feature[data-feature='x0'] .feature-head");
        Assert.Contains("drift", x1);
        Assert.Contains("stable", x0);
        Assert.Equal(2 * 24, await CountAsync("section.feature[data-feature='x1'] rect.bar-ref, section.feature[data-feature='x1'] rect.bar-cur"));
        Assert.Equal(SeededHub.DriftDays, await CountAsync("section.feature[data-feature='x1'] circle.dot"));
        await ScreenshotAsync("drift");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task The_latency_page_charts_fallback_rate_and_latency_over_time()
    {
        await OpenAsync("#/latency?hours=24", "latency");
        var text = await MainTextAsync();
        int total = Hub.Predictions.Values.Sum();
        Assert.Contains($"{N(total)} predictions", text);
        Assert.Contains(SeededHub.ModelKey, text);
        Assert.Contains(N(Hub.Fallbacks), text);
        Assert.True(await CountAsync(".chart path.series") >= 6, "decider, fallback-rate and latency lines are drawn");

        // Choosing a device narrows every chart to it.
        await SelectAsync("device", "press-01");
        await Page.WaitForAsync($"document.getElementById('main').innerText.includes('{N(Hub.Predictions["press-01"])} predictions')", "press-01's predictions only");
        await SelectAsync("device", "");
        await Page.WaitForAsync($"document.getElementById('main').innerText.includes('{N(total)} predictions')", "the whole fleet again");
        await ScreenshotAsync("latency");
        AssertNoConsoleErrors();
    }

    [Fact]
    public async Task A_token_the_hub_refuses_brings_back_the_sign_in_form_with_the_reason()
    {
        await Page.NavigateAsync(Hub.BaseAddress.ToString());
        await Page.WaitForAsync("document.getElementById('login-form') !== null", "the sign-in form");
        await SignInAsync("ehub_not-a-real-token");
        await Page.WaitForAsync("document.getElementById('login-error') !== null", "the refusal message");
        Assert.Contains("refused", await Page.TextAsync("#login-error"));
        // The browser logs the refused request (401) itself; nothing else may fail.
        Assert.All(Page.Errors, e => Assert.Contains("401", e));
    }
}
