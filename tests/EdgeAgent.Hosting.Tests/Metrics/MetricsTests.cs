using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using EdgeAgent.Hosting.Metrics;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeAgent.Hosting.Tests.Metrics;

public sealed partial class MetricsTests
{
    [GeneratedRegex("""^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\\\|\\"|\\n)*",?)*)\})? (?<value>\S+)$""")]
    private static partial Regex SampleLine();

        /// <summary>Parses text format 0.0.4 strictly enough to catch format mistakes; returns samples keyed by name+labels.</summary>
    private static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>();
        var help = new HashSet<string>();
        var types = new Dictionary<string, string>();
        Assert.EndsWith("\n", text);
        foreach (var line in text.TrimEnd('\n').Split('\n'))
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal)) { Assert.True(help.Add(line.Split(' ')[2]), $"duplicate HELP: {line}"); continue; }
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var p = line.Split(' ');
                Assert.Contains(p[3], new[] { "counter", "gauge", "histogram", "summary", "untyped" });
                Assert.True(help.Contains(p[2]), $"TYPE before HELP for {p[2]}");
                types.Add(p[2], p[3]);
                continue;
            }
            var m = SampleLine().Match(line);
            Assert.True(m.Success, $"not a valid sample line: '{line}'");
            string name = m.Groups["name"].Value;
            string family = types.ContainsKey(name) ? name : Regex.Replace(name, "_(bucket|sum|count)$", "");
            Assert.True(types.ContainsKey(family), $"sample {name} has no TYPE line before it");
            if (family != name) Assert.Equal("histogram", types[family]);
            string v = m.Groups["value"].Value;
            double value = v switch { "+Inf" => double.PositiveInfinity, "-Inf" => double.NegativeInfinity, "NaN" => double.NaN, _ => double.Parse(v, CultureInfo.InvariantCulture) };
            samples.Add(name + "{" + m.Groups["labels"].Value + "}", value);
        }
        return samples;
    }

    private static (MetricsRegistry Registry, Counter Drops, Histogram Latency) Sample()
    {
        var registry = new MetricsRegistry();
        var drops = registry.CreateCounter("edgeagent_outbox_drops_total", "Records dropped.", "reason").WithLabels("budget");
        var latency = registry.CreateHistogram("edgeagent_inference_latency_seconds", "Inference latency.\nSecond \\ line.", [0.001, 0.01, 0.1], "model").WithLabels("kws \"v3\"");
        registry.CreateGauge("edgeagent_mqtt_connected", "1 while connected.").Set(1);
        drops.Inc();
        drops.Inc(2);
        foreach (var v in new[] { 0.0005, 0.001, 0.002, 0.05, 0.5, 7.0 }) latency.Observe(v);
        return (registry, drops, latency);
    }

    [Fact]
    public async Task A_scrape_through_HttpClient_parses_as_Prometheus_text()
    {
        var (registry, _, _) = Sample();
        await using var exporter = new MetricsExporter(registry, IPAddress.Loopback, 0, NullLogger<MetricsExporter>.Instance);
        await exporter.StartAsync(CancellationToken.None);
        using var http = new HttpClient();
        using var response = await http.GetAsync($"http://127.0.0.1:{exporter.Port}/metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        string text = await response.Content.ReadAsStringAsync();
        var s = Parse(text);

        Assert.Contains("# HELP edgeagent_inference_latency_seconds Inference latency.\\nSecond \\\\ line.\n", text);
        Assert.Contains("# TYPE edgeagent_inference_latency_seconds histogram\n", text);
        Assert.Contains("# TYPE edgeagent_outbox_drops_total counter\n", text);
        Assert.Equal(3, s["edgeagent_outbox_drops_total{reason=\"budget\"}"]);
        Assert.Equal(1, s["edgeagent_mqtt_connected{}"]);
        const string model = "model=\"kws \\\"v3\\\"\"";
        // Cumulative buckets, le inclusive: 0.0005 and 0.001 ≤ 0.001; +0.002 ≤ 0.01; +0.05 ≤ 0.1; all 6 ≤ +Inf.
        Assert.Equal(2, s[$"edgeagent_inference_latency_seconds_bucket{{{model},le=\"0.001\"}}"]);
        Assert.Equal(3, s[$"edgeagent_inference_latency_seconds_bucket{{{model},le=\"0.01\"}}"]);
        Assert.Equal(4, s[$"edgeagent_inference_latency_seconds_bucket{{{model},le=\"0.1\"}}"]);
        Assert.Equal(6, s[$"edgeagent_inference_latency_seconds_bucket{{{model},le=\"+Inf\"}}"]);
        Assert.Equal(6, s[$"edgeagent_inference_latency_seconds_count{{{model}}}"]);
        Assert.Equal(0.0005 + 0.001 + 0.002 + 0.05 + 0.5 + 7.0, s[$"edgeagent_inference_latency_seconds_sum{{{model}}}"], 12);
        // Bucket lines come in increasing le order, +Inf last, then _sum and _count.
        var order = text.Split('\n').Where(l => l.StartsWith("edgeagent_inference_latency_seconds", StringComparison.Ordinal)).Select(l => l[..l.LastIndexOf(' ')]).ToList();
        Assert.EndsWith("le=\"+Inf\"}", order[3]);
        Assert.StartsWith("edgeagent_inference_latency_seconds_sum", order[4]);
        Assert.StartsWith("edgeagent_inference_latency_seconds_count", order[5]);
    }

    [Theory]
    [InlineData("GET", "/", HttpStatusCode.NotFound)]
    [InlineData("GET", "/metrics/extra", HttpStatusCode.NotFound)]
    [InlineData("POST", "/metrics", HttpStatusCode.MethodNotAllowed)]
    [InlineData("GET", "/metrics?name[]=x", HttpStatusCode.OK)]
    [InlineData("HEAD", "/metrics", HttpStatusCode.OK)]
    public async Task Only_GET_or_HEAD_of_metrics_is_served(string method, string path, HttpStatusCode expected)
    {
        await using var exporter = new MetricsExporter(Sample().Registry, IPAddress.Loopback, 0, NullLogger<MetricsExporter>.Instance);
        await exporter.StartAsync(CancellationToken.None);
        using var http = new HttpClient();
        using var response = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"http://127.0.0.1:{exporter.Port}{path}"));
        Assert.Equal(expected, response.StatusCode);
    }

    [Fact]
    public async Task A_malformed_request_gets_400()
    {
        await using var exporter = new MetricsExporter(new MetricsRegistry(), IPAddress.Loopback, 0, NullLogger<MetricsExporter>.Instance);
        await exporter.StartAsync(CancellationToken.None);
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, exporter.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync("BLAH\r\n\r\n"u8.ToArray());
        string reply = await new StreamReader(stream).ReadToEndAsync();
        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", reply);
    }

    [Fact]
    public void Counter_increments_and_histogram_observations_do_not_allocate()
    {
        var (_, drops, latency) = Sample();
        var gauge = new MetricsRegistry().CreateGauge("g", "g");
        drops.Inc(); latency.Observe(0.003); gauge.Set(1); // JIT and first-use out of the way
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100_000; i++)
        {
            drops.Inc();
            drops.Inc(0.5);
            latency.Observe(i * 1e-6);
            gauge.Inc();
        }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Fact]
    public async Task Concurrent_updates_are_not_lost()
    {
        var registry = new MetricsRegistry();
        var counter = registry.CreateCounter("c_total", "c");
        var histogram = registry.CreateHistogram("h", "h", [1]);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (int i = 0; i < 100_000; i++) { counter.Inc(); histogram.Observe(0.5); }
        })));
        Assert.Equal(400_000, counter.Value);
        Assert.Equal(400_000, histogram.Count);
        Assert.Equal(200_000, histogram.Sum);
    }

    [Fact]
    public void Label_children_are_distinct_and_cached()
    {
        var family = new MetricsRegistry().CreateCounter("x_total", "x", "a", "b");
        Assert.Same(family.WithLabels("1", "2"), family.WithLabels("1", "2"));
        Assert.NotSame(family.WithLabels("1", "2"), family.WithLabels("12", ""));
        Assert.Throws<ArgumentException>(() => family.WithLabels("only one"));
    }

    [Fact]
    public void Invalid_definitions_fail_at_creation()
    {
        var r = new MetricsRegistry();
        Assert.Throws<ArgumentException>(() => r.CreateGauge("1bad", "x"));
        Assert.Throws<ArgumentException>(() => r.CreateGauge("ok", "x", "__reserved"));
        Assert.Throws<ArgumentException>(() => r.CreateCounter("requests", "x"));
        Assert.Throws<ArgumentException>(() => r.CreateHistogram("h", "x", [1, 1]));
        Assert.Throws<ArgumentException>(() => r.CreateHistogram("h2", "x", [1], "le"));
        r.CreateGauge("dup", "x");
        Assert.Throws<ArgumentException>(() => r.CreateGauge("dup", "x"));
        Assert.Throws<ArgumentOutOfRangeException>(() => r.CreateCounter("c_total", "x").Inc(-1));
    }

    [Fact]
    public void Special_values_use_Prometheus_spelling()
    {
        var r = new MetricsRegistry();
        r.CreateGauge("a", "a").Set(double.PositiveInfinity);
        r.CreateGauge("b", "b").Set(double.NaN);
        r.CreateGauge("c", "c").Set(1e-7);
        var s = Parse(r.Render());
        Assert.Equal(double.PositiveInfinity, s["a{}"]);
        Assert.True(double.IsNaN(s["b{}"]));
        Assert.Equal(1e-7, s["c{}"]);
    }

    [Fact]
    public void The_standard_agent_metrics_render()
    {
        var registry = new MetricsRegistry();
        var m = new AgentMetrics(registry, TimeProvider.System);
        m.InferenceLatency.WithLabels("kws").Observe(TimeSpan.FromMilliseconds(3));
        m.OutboxDepth.Set(12);
        var s = Parse(registry.Render());
        Assert.Equal(12, s["edgeagent_outbox_depth{}"]);
        Assert.True(s["process_resident_memory_bytes{}"] > 0);
    }
}
