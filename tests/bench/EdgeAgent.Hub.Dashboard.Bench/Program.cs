using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using EdgeAgent.Hub.Auth;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Pipeline.Telemetry;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

// Dashboard bench: seeds a hub's SQLite store with D devices × P prediction events spread over the last
// 24 h, then times each dashboard endpoint and /metrics (R requests each, sequential, after one warm-up)
// against GET /api/v1/devices, a plain registry read, measured in the same run.
int devices = Arg("--devices", 200), perDevice = Arg("--predictions-per-device", 1000), requests = Arg("--requests", 20);

var dir = Directory.CreateTempSubdirectory("edgehub-dash-bench-").FullName;
int port;
using (var l = new TcpListener(IPAddress.Loopback, 0)) { l.Start(); port = ((IPEndPoint)l.LocalEndpoint).Port; }
var app = await HubHost.BuildAsync(new HubOptions { Store = "sqlite:" + Path.Combine(dir, "hub.db"), Urls = [$"http://127.0.0.1:{port}"], RetentionDays = 0 },
    logging: l => l.SetMinimumLevel(LogLevel.Warning));
await app.StartAsync();
try
{
    var store = app.Services.GetRequiredService<IHubStore>();
    var token = (await ApiTokens.CreateAsync(store, "bench", HubRole.ReadOnly, TimeProvider.System, default)).Secret;
    var now = DateTimeOffset.UtcNow;
    var rng = new Random(1);
    var seed = Stopwatch.StartNew();
    for (int d = 0; d < devices; d++)
    {
        var id = $"dev-{d:D4}";
        await store.RecordDeviceStatusAsync(id, new DeviceStatusReport(d % 10 != 0, d % 3 == 0 ? "0.9.2" : "1.0.0", "vib-mlp@1.0.0", "ok", null, "{}", now));
        var events = new List<StoredEvent>(perDevice);
        for (int i = 0; i < perDevice; i++)
        {
            var ts = now.AddSeconds(-86400.0 * (perDevice - i) / perDevice);
            var decided = rng.NextDouble() < 0.85 ? DecidedBy.Local : rng.NextDouble() < 0.8 ? DecidedBy.Cloud : DecidedBy.Fallback;
            var json = JsonSerializer.Serialize(new PipelineResult
            {
                Model = "vib-mlp@1.0.0", Window = i, WindowEnd = ts, Label = "normal", LocalLabel = "normal", Confidence = 0.9f, LocalConfidence = 0.9f,
                DecidedBy = decided, InferenceUs = 150 + rng.Next(100), LatencyUs = 400 + rng.Next(400),
            }, PipelineJsonContext.Default.PipelineResult);
            events.Add(new StoredEvent(id, "b0", i + 1, "telemetry", "data", ts, 0, json, null));
        }
        await store.StoreTelemetryAsync(events, []);
    }
    Console.WriteLine($"seeded {devices} devices x {perDevice} predictions = {devices * perDevice:N0} events in {seed.Elapsed.TotalSeconds:F1} s");

    using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromMinutes(5) };
    http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
    Console.WriteLine($"| request | median ms | p95 ms | bytes | × baseline median |");
    Console.WriteLine($"|---|---:|---:|---:|---:|");
    double? baseline = null;
    foreach (var path in new[] { "api/v1/devices", "api/v1/dashboard/overview", "api/v1/dashboard/predictions?hours=24", "api/v1/dashboard/predictions?hours=1",
                 $"api/v1/dashboard/devices/dev-0001?hours=24", "metrics", "ui/app.js" })
    {
        var times = new List<double>();
        long bytes = 0;
        for (int i = 0; i <= requests; i++)
        {
            var sw = Stopwatch.StartNew();
            var r = await http.GetAsync(path);
            var body = await r.Content.ReadAsByteArrayAsync();
            sw.Stop();
            if (r.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"{path}: {r.StatusCode}");
            if (i == 0) continue; // warm-up (JIT, page cache)
            times.Add(sw.Elapsed.TotalMilliseconds);
            bytes = body.Length;
        }
        times.Sort();
        double median = times[times.Count / 2], p95 = times[(int)Math.Ceiling(0.95 * times.Count) - 1];
        baseline ??= median;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| GET /{path} | {median:F1} | {p95:F1} | {bytes:N0} | {median / baseline.Value:F1} |"));
    }
}
finally
{
    await app.StopAsync();
    await app.DisposeAsync();
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    Directory.Delete(dir, recursive: true);
}

int Arg(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
