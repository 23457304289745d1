using EdgeAgent.Hub.Dashboard.Tests.Browser;
using Xunit;

namespace EdgeAgent.Hub.Dashboard.Tests.Fixtures;

/// <summary>One seeded hub and one headless Chromium shared by the browser tests (starting either costs seconds).</summary>
public sealed class DashboardBrowserFixture : IAsyncLifetime
{
    private SeededHub? _hub;
    private HeadlessChromium? _browser;

    public SeededHub Hub => _hub ?? throw new InvalidOperationException("hub not started");

    public HeadlessChromium Browser => _browser ?? throw new InvalidOperationException("browser not started");

    /// <summary>Where screenshots go (<c>EDGEAGENT_SCREENSHOTS</c>), or null to take none.</summary>
    public static string? ScreenshotDirectory => Environment.GetEnvironmentVariable("EDGEAGENT_SCREENSHOTS") is { Length: > 0 } d ? d : null;

    /// <summary>Writes a full-page PNG of <paramref name="page"/> to <see cref="ScreenshotDirectory"/> when it is set.</summary>
    public static async Task ScreenshotAsync(Browser.BrowserPage page, string name)
    {
        if (ScreenshotDirectory is not { } dir) return;
        Directory.CreateDirectory(dir);
        await File.WriteAllBytesAsync(Path.Combine(dir, name + ".png"), await page.ScreenshotAsync());
    }

    public async Task InitializeAsync()
    {
        _browser = await HeadlessChromium.LaunchAsync();
        _hub = await SeededHub.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        if (_hub is not null) await _hub.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class DashboardBrowserCollection : ICollectionFixture<DashboardBrowserFixture>
{
    public const string Name = "dashboard browser";
}
