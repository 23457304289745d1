using System.Net;
using EdgeAgent.Hub.Dashboard.Tests.Fixtures;
using Xunit;

namespace EdgeAgent.Hub.Dashboard.Tests.Api;

/// <summary>The static files: embedded, typed, revalidated by ETag, under a strict content security policy.</summary>
[Collection(SeededHubCollection.Name)]
public sealed class DashboardAssetsTests(SeededHubFixture fixture)
{
    [Fact]
    public async Task Every_embedded_file_is_served_with_its_type_an_etag_and_the_security_headers()
    {
        var assets = new DashboardAssets();
        Assert.Contains("app.js", assets.Paths);
        Assert.Contains("pages/rollouts.js", assets.Paths);
        using var http = fixture.Hub.Hub.Client(null);
        foreach (var path in assets.Paths)
        {
            var r = await http.GetAsync("ui/" + path);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal(assets.Find(path)!.Content, await r.Content.ReadAsByteArrayAsync());
            var type = r.Content.Headers.ContentType!.MediaType;
            Assert.Equal(Path.GetExtension(path) switch { ".js" => "text/javascript", ".css" => "text/css", ".html" => "text/html", ".svg" => "image/svg+xml", _ => "?" }, type);
            Assert.Equal(DashboardEndpoints.ContentSecurityPolicy, r.Headers.GetValues("Content-Security-Policy").Single());
            Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());

            using var again = new HttpRequestMessage(HttpMethod.Get, "ui/" + path);
            again.Headers.TryAddWithoutValidation("If-None-Match", r.Headers.ETag!.ToString());
            Assert.Equal(HttpStatusCode.NotModified, (await http.SendAsync(again)).StatusCode);
        }
    }

    [Fact]
    public async Task The_root_and_deep_links_get_the_page_and_unknown_files_a_404()
    {
        using var http = fixture.Hub.Hub.Client(null);
        var index = new DashboardAssets().Find("index.html")!.Content;
        Assert.Equal(index, await http.GetByteArrayAsync(""));
        Assert.Equal(index, await http.GetByteArrayAsync("ui/devices/press-01"));
        var missing = await http.GetAsync("ui/nope.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("no dashboard file 'nope.js'", await missing.Content.ReadAsStringAsync());
    }

    [Fact]
    public void The_modules_use_no_inline_script_no_inline_style_and_no_external_origin()
    {
        // The CSP would block them in the browser; this names the offending file at build time instead.
        var assets = new DashboardAssets();
        foreach (var path in assets.Paths.Where(p => p.EndsWith(".js", StringComparison.Ordinal) || p.EndsWith(".html", StringComparison.Ordinal)))
        {
            var text = System.Text.Encoding.UTF8.GetString(assets.Find(path)!.Content);
            Assert.DoesNotContain("innerHTML", text);
            Assert.DoesNotContain("style=", text);
            Assert.DoesNotContain("http://", text.Replace("http://www.w3.org/2000/svg", "", StringComparison.Ordinal));
            Assert.DoesNotContain("https://", text);
        }
    }
}
