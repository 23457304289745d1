using System.Text.Json;
using EdgeAgent.Hub.Dashboard.Tests.Browser;
using Xunit;

namespace EdgeAgent.Hub.Dashboard.Tests.Fixtures;

/// <summary>A test with its own browser tab (own sessionStorage) in the shared Chromium, and the page steps the tests share.</summary>
public abstract class BrowserTest(DashboardBrowserFixture fixture) : IAsyncLifetime
{
    private BrowserPage? _page;

    protected BrowserPage Page => _page ?? throw new InvalidOperationException("page not open");

    protected DashboardBrowserFixture Fixture => fixture;

    public virtual async Task InitializeAsync() => _page = await fixture.Browser.NewPageAsync();

    public virtual async Task DisposeAsync()
    {
        if (_page is not null) await _page.CloseAsync();
    }

    /// <summary>Opens a page of the hub at <paramref name="hub"/> with <paramref name="token"/> already in the tab's sessionStorage (as after signing in).</summary>
    protected async Task OpenAsync(Uri hub, string hash, string page, string token)
    {
        await Page.NavigateAsync(new Uri(hub, "/").ToString());
        await Page.WaitForAsync("document.getElementById('main').dataset.page !== undefined", "the dashboard shell");
        // The marker dies with the old document, so the wait below cannot be satisfied by the page before the reload.
        await Page.EvaluateAsync($"(() => {{ window.__beforeReload = true; sessionStorage.setItem('edgehub.token', {JsonSerializer.Serialize(token)}); location.hash = {JsonSerializer.Serialize(hash)}; location.reload(); return true; }})()");
        await Page.WaitForAsync($"!window.__beforeReload && document.getElementById('main').dataset.page === '{page}' && Number(document.getElementById('main').dataset.renders) >= 1", $"page {page}");
    }

    /// <summary>Types the token into the sign-in form and submits it.</summary>
    protected Task SignInAsync(string token) => Page.EvaluateAsync(
        $"(() => {{ document.getElementById('token').value = {JsonSerializer.Serialize(token)}; document.getElementById('login-form').requestSubmit(); return true; }})()");

    protected Task SelectAsync(string id, string value) => Page.EvaluateAsync(
        $"(() => {{ const s = document.getElementById({JsonSerializer.Serialize(id)}); s.value = {JsonSerializer.Serialize(value)}; s.dispatchEvent(new Event('change')); return true; }})()");

    protected Task ClickAsync(string selector) =>
        Page.EvaluateAsync($"(() => {{ document.querySelector({JsonSerializer.Serialize(selector)}).click(); return true; }})()");

    protected async Task<int> CountAsync(string selector) => (await Page.EvaluateAsync($"document.querySelectorAll({JsonSerializer.Serialize(selector)}).length")).GetInt32();

    protected Task ScreenshotAsync(string name) => DashboardBrowserFixture.ScreenshotAsync(Page, name);

    protected void AssertNoConsoleErrors() => Assert.True(Page.Errors.Count == 0, "console errors: " + string.Join("\n", Page.Errors));
}
