using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using EdgeAgent.Hub.Dashboard.Tests.Fixtures;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Tests.Fixtures;
using Microsoft.Extensions.Logging;
using Xunit;

namespace EdgeAgent.Hub.Dashboard.Tests.Metrics;

[Collection(SeededHubCollection.Name)]
public sealed class MetricsEndpointTests(SeededHubFixture fixture)
{
    private SeededHub Seeded => fixture.Hub;

    private static double Value(IReadOnlyDictionary<string, PromFamily> m, string family, params (string Name, string Value)[] labels)
    {
        Assert.True(m.TryGetValue(family, out var f), $"family {family} missing");
        var matches = f!.Samples.Where(s => labels.All(l => s.Label(l.Name) == l.Value)).ToList();
        Assert.True(matches.Count == 1, $"{family}{{{string.Join(",", labels.Select(l => $"{l.Name}={l.Value}"))}}}: {matches.Count} samples");
        return matches[0].Value;
    }

    private async Task<(HttpResponseMessage Response, string Body)> ScrapeAsync()
    {
        using var http = Seeded.Hub.Client(null);
        var r = await http.GetAsync("metrics");
        return (r, await r.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Metrics_are_served_anonymously_in_the_text_format_with_the_fleet_figures()
    {
        var (r, body) = await ScrapeAsync();
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", r.Content.Headers.ContentType!.ToString());
        var m = PrometheusExposition.Parse(body);

        Assert.Equal(6, Value(m, "edgehub_devices_registered"));
        Assert.Equal(3, Value(m, "edgehub_devices", ("state", "online")));
        Assert.Equal(1, Value(m, "edgehub_devices", ("state", "offline")));
        Assert.Equal(1, Value(m, "edgehub_devices", ("state", "unknown")));
        Assert.Equal(1, Value(m, "edgehub_devices", ("state", "revoked")));
        Assert.Equal(4, Value(m, "edgehub_devices_by_model", ("model", SeededHub.Model), ("version", SeededHub.Version)));
        Assert.Equal(2, Value(m, "edgehub_devices_by_agent_version", ("agent_version", "1.0.0"))); // press-01, press-02 (press-06 is revoked)
        Assert.Equal(2, Value(m, "edgehub_devices_by_agent_version", ("agent_version", "0.9.2")));

        Assert.Equal(Seeded.Predictions.Values.Sum() + 1, Value(m, "edgehub_telemetry_events_stored", ("stream", "telemetry"))); // + the tombstone
        Assert.Equal(Seeded.Duplicates, Value(m, "edgehub_telemetry_duplicates_dropped_total"));
        Assert.Equal(1, Value(m, "edgehub_rejected_messages_total"));
        Assert.Equal(1, Value(m, "edgehub_telemetry_gaps"));
        Assert.Equal(99, Value(m, "edgehub_telemetry_gap_events"));
        Assert.Equal(0, Value(m, "edgehub_cloud_requests_total", ("outcome", "answered")));
        Assert.Equal("counter", m["edgehub_rejected_messages_total"].Type);
        Assert.Equal("gauge", m["edgehub_drift_psi"].Type);

        // x1 drifted 1.2 σ by the latest day; x0 did not.
        Assert.True(Value(m, "edgehub_drift_psi", ("model", SeededHub.Model), ("version", SeededHub.Version), ("feature", "x1")) > 0.25);
        Assert.True(Value(m, "edgehub_drift_psi", ("model", SeededHub.Model), ("version", SeededHub.Version), ("feature", "x0")) < 0.1);
        Assert.Equal(5 * 2000, Value(m, "edgehub_drift_samples", ("model", SeededHub.Model), ("version", SeededHub.Version), ("feature", "x0")));

        var lastHour = m["edgehub_predictions_last_hour"].Samples.Where(s => s.Label("model") == SeededHub.ModelKey).Sum(s => s.Value);
        Assert.InRange(lastHour, 3 * (SeededHub.PredictionsPerHour - 2), 3 * (SeededHub.PredictionsPerHour + 2));
        var p95 = Value(m, "edgehub_inference_microseconds_last_hour", ("model", SeededHub.ModelKey), ("quantile", "0.95"));
        Assert.InRange(p95, 150, 330);
    }

    [Fact]
    public async Task Hostile_label_values_are_escaped_so_the_exposition_stays_parseable()
    {
        await using var hub = await RunningHub.StartAsync();
        var odd = "1.0\"beta\\x\ny";
        await hub.Store.RecordDeviceStatusAsync("odd-1", new EdgeAgent.Hub.Storage.DeviceStatusReport(true, odd, "m\"x@1\\2", null, null, "{}", DateTimeOffset.UtcNow));
        using var http = hub.Client(null);
        var m = PrometheusExposition.Parse(await http.GetStringAsync("metrics"));
        Assert.Equal(1, Value(m, "edgehub_devices_by_agent_version", ("agent_version", odd)));
        Assert.Equal(1, Value(m, "edgehub_devices_by_model", ("model", "m\"x"), ("version", "1\\2")));
    }

    [Fact]
    public async Task With_a_metrics_token_only_that_token_may_scrape()
    {
        var dir = Directory.CreateTempSubdirectory("edgehub-metrics-").FullName;
        int port;
        using (var l = new TcpListener(IPAddress.Loopback, 0)) { l.Start(); port = ((IPEndPoint)l.LocalEndpoint).Port; }
        const string secret = "scrape-secret-0123456789";
        var app = await HubHost.BuildAsync(new HubOptions { Store = "sqlite:" + Path.Combine(dir, "hub.db"), Urls = [$"http://127.0.0.1:{port}"], MetricsToken = secret, RetentionDays = 0 },
            logging: l => l.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
            var anonymous = await http.GetAsync("metrics");
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            Assert.Contains("EDGEHUB_METRICS_TOKEN", await anonymous.Content.ReadAsStringAsync());
            using var wrong = new HttpRequestMessage(HttpMethod.Get, "metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", secret + "x") } };
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);
            using var right = new HttpRequestMessage(HttpMethod.Get, "metrics") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", secret) } };
            var ok = await http.SendAsync(right);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal(0, PrometheusExposition.Parse(await ok.Content.ReadAsStringAsync())["edgehub_devices_registered"].Samples.Single().Value);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_short_metrics_token_is_refused_at_start_with_a_clear_message()
    {
        var problems = new HubOptions { Store = "sqlite:x.db", MetricsToken = "short" }.Validate();
        Assert.Contains("the metrics token (EDGEHUB_METRICS_TOKEN) must be at least 16 characters without spaces", problems);
    }
}
