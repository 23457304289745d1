using System.Net;
using System.Text.Json.Nodes;
using EdgeAgent.Hub.Dashboard.Tests.Fixtures;
using Xunit;

namespace EdgeAgent.Hub.Dashboard.Tests.Api;

/// <summary>The dashboard's JSON endpoints against the seeded hub, with the figures the seed implies.</summary>
[Collection(SeededHubCollection.Name)]
public sealed class DashboardApiTests(SeededHubFixture fixture)
{
    private SeededHub Seeded => fixture.Hub;

    private async Task<JsonNode> GetAsync(string path, string? token = null)
    {
        using var http = Seeded.Hub.Client(token ?? Seeded.Hub.ReadOnlyToken);
        var r = await http.GetAsync(path);
        var body = await r.Content.ReadAsStringAsync();
        Assert.True(r.StatusCode == HttpStatusCode.OK, $"{path}: {r.StatusCode} {body}");
        return JsonNode.Parse(body)!;
    }

    private async Task<(HttpStatusCode Status, string Error)> RefusedAsync(string path, string? token)
    {
        using var http = Seeded.Hub.Client(token);
        var r = await http.GetAsync(path);
        return (r.StatusCode, (string)JsonNode.Parse(await r.Content.ReadAsStringAsync())!["error"]!);
    }

    [Fact]
    public async Task The_overview_counts_devices_by_state_version_model_and_health()
    {
        var o = await GetAsync("api/v1/dashboard/overview");
        var d = o["devices"]!;
        Assert.Equal((6, 3, 1, 1, 1), ((int)d["registered"]!, (int)d["online"]!, (int)d["offline"]!, (int)d["unknown"]!, (int)d["revoked"]!));
        var versions = o["agentVersions"]!.AsArray().ToDictionary(k => (string?)k!["key"] ?? "-", k => (int)k!["count"]!);
        Assert.Equal(new Dictionary<string, int> { ["1.0.0"] = 2, ["0.9.2"] = 2, ["-"] = 1 }, versions);
        Assert.Equal(1, o["health"]!.AsArray().Single(k => (string?)k!["key"] == "degraded")!["count"]!.GetValue<long>());
        var ingest = o["ingest"]!;
        Assert.Equal(1, (int)ingest["rejectedMessages"]!);
        Assert.Equal(Seeded.Duplicates, (int)ingest["duplicatesDropped"]!);
        var rows = o["deviceList"]!.AsArray();
        Assert.Equal("revoked", (string)rows.Single(r => (string)r!["id"]! == SeededHub.RevokedDevice)!["state"]!);
        Assert.Equal(Seeded.Predictions["press-01"] + 10, (int)rows.Single(r => (string)r!["id"]! == "press-01")!["events"]!); // + 10 drift windows
    }

    [Fact]
    public async Task The_prediction_series_buckets_every_prediction_with_deciders_and_latency_percentiles()
    {
        var p = await GetAsync("api/v1/dashboard/predictions?hours=24");
        var totals = p["totals"]!;
        int count = Seeded.Predictions.Values.Sum();
        Assert.Equal(count, (int)totals["count"]!);
        Assert.Equal(Seeded.Fallbacks, (int)totals["fallback"]!);
        Assert.Equal(count, (int)totals["local"]! + (int)totals["cloud"]! + (int)totals["fallback"]!);
        Assert.Equal(900, (int)p["bucketSeconds"]!);
        var points = p["points"]!.AsArray();
        Assert.InRange(points.Count, 96, 97); // every 15-minute bucket of the day, empty ones included
        Assert.Equal(count, points.Sum(x => (int)x!["count"]!));
        Assert.False((bool)p["truncated"]!);
        // Cloud answers add ~25 ms to the decision: p95 sees them, p50 does not.
        Assert.InRange((double)totals["latencyP50Us"]!, 400, 700);
        Assert.InRange((double)totals["latencyP95Us"]!, 25_000, 26_000);

        var one = await GetAsync("api/v1/dashboard/predictions?hours=24&device=press-03");
        Assert.Equal(Seeded.Predictions["press-03"], (int)one["totals"]!["count"]!);
        Assert.Equal(Seeded.Fallbacks, (int)one["totals"]!["fallback"]!); // only press-03 lost its link
    }

    [Fact]
    public async Task The_device_view_has_its_status_payload_gaps_and_predictions()
    {
        var d = await GetAsync("api/v1/dashboard/devices/press-04");
        Assert.Equal("offline", (string)d["device"]!["state"]!);
        Assert.Equal("0.9.2", (string)d["status"]!["agentVersion"]!);
        var gap = d["gaps"]!.AsArray().Single()!;
        Assert.Equal((1, 99, 99), ((int)gap["fromSeq"]!, (int)gap["toSeq"]!, (int)gap["count"]!));
        Assert.Equal(0, (int)d["predictions"]!["samples"]!);
        Assert.Equal(Seeded.Predictions["press-01"], (int)(await GetAsync("api/v1/dashboard/devices/press-01"))["predictions"]!["samples"]!);
    }

    [Fact]
    public async Task Drift_detail_has_both_distributions_and_psi_rising_day_by_day_for_the_moved_feature()
    {
        var list = (await GetAsync("api/v1/dashboard/drift")).AsArray().Single()!;
        Assert.Equal((SeededHub.Model, SeededHub.Version, SeededHub.DriftDays, true), ((string)list["model"]!, (string)list["version"]!, (int)list["days"]!, (bool)list["hasReference"]!));
        var d = await GetAsync($"api/v1/dashboard/drift/{SeededHub.Model}/{SeededHub.Version}?days=14");
        var x1 = d["features"]!.AsArray().Single(f => (string)f!["feature"]! == "x1")!;
        var psi = x1["byDay"]!.AsArray().Select(p => (double)p!["psi"]!).ToList();
        Assert.Equal(SeededHub.DriftDays, psi.Count);
        Assert.True(psi.Zip(psi.Skip(1)).All(p => p.Second > p.First), $"PSI by day should rise: {string.Join(", ", psi)}");
        var h = x1["histogram"]!;
        Assert.Equal(25, h["edges"]!.AsArray().Count);
        Assert.InRange(h["current"]!.AsArray().Sum(v => (double)v!), 0.999, 1.001);
        Assert.InRange(h["reference"]!.AsArray().Sum(v => (double)v!), 0.999, 1.001);
        // The current distribution sits right of the reference: its mass above the middle edge is larger.
        int mid = 12;
        Assert.True(h["current"]!.AsArray().Skip(mid).Sum(v => (double)v!) > h["reference"]!.AsArray().Skip(mid).Sum(v => (double)v!));

        var none = await GetAsync("api/v1/dashboard/drift/unknown-model/9.9.9");
        Assert.Empty(none["features"]!.AsArray());
    }

    [Fact]
    public async Task Bad_ranges_unknown_devices_and_missing_tokens_get_clear_errors()
    {
        Assert.Equal((HttpStatusCode.BadRequest, "hours 0 must be between 1 and 720"), await RefusedAsync("api/v1/dashboard/predictions?hours=0", Seeded.Hub.ReadOnlyToken));
        Assert.Equal((HttpStatusCode.BadRequest, "days 91 must be between 1 and 90"), await RefusedAsync($"api/v1/dashboard/drift/{SeededHub.Model}/{SeededHub.Version}?days=91", Seeded.Hub.ReadOnlyToken));
        Assert.Equal((HttpStatusCode.NotFound, "device 'nope' is not registered"), await RefusedAsync("api/v1/dashboard/devices/nope", Seeded.Hub.ReadOnlyToken));
        var (status, error) = await RefusedAsync("api/v1/dashboard/overview", null);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Contains("bearer token", error);
    }

    [Fact]
    public async Task The_session_says_which_role_may_operate()
    {
        var reader = await GetAsync("api/v1/dashboard/session");
        Assert.Equal(("test-reader", "read-only", false), ((string)reader["name"]!, (string)reader["role"]!, (bool)reader["canOperate"]!));
        var op = await GetAsync("api/v1/dashboard/session", Seeded.Hub.OperatorToken);
        Assert.True((bool)op["canOperate"]!);
    }

    [Fact]
    public async Task The_openapi_document_lists_the_dashboard_endpoints_as_read_only()
    {
        using var http = Seeded.Hub.Client(null);
        var doc = JsonNode.Parse(await http.GetStringAsync("openapi/v1.json"))!;
        foreach (var path in new[] { "/api/v1/dashboard/overview", "/api/v1/dashboard/predictions", "/api/v1/dashboard/devices/{id}", "/api/v1/dashboard/drift/{model}/{version}" })
            Assert.Equal("read-only", (string)doc["paths"]![path]!["get"]!["x-required-role"]!);
    }
}
