using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using EdgeAgent.Bundles;
using EdgeAgent.Bundles.Assignments;
using EdgeAgent.Bundles.Manifest;
using EdgeAgent.Hub.Hosting;
using EdgeAgent.Hub.Models;
using EdgeAgent.Hub.Releases;
using EdgeAgent.Hub.Storage;
using EdgeAgent.Hub.Tests.Fixtures;
using EdgeAgent.OnnxFormat.Generators;
using EdgeAgent.Trust.Repository;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

// Release serving and publishing benchmark. Serving: N concurrent HTTP clients download the same bundle from
// /tuf/targets (ETag, Range, Cache-Control, artifact cache) and from a baseline endpoint in the same Kestrel that
// returns the same in-memory array with Results.Bytes (no ETag, no Range); rounds alternate. Publishing: 1,000
// device assignments in one batch on SQLite and PostgreSQL vs the same signing in memory (TufRepository alone).
var seconds = Arg("--seconds", 3);
var rounds = Arg("--rounds", 3);
var output = args.SkipWhile(a => a != "--out").Skip(1).FirstOrDefault();
var publishOnly = args.Contains("--publish-only");
var report = new StringBuilder();
void Line(string s) { Console.WriteLine(s); report.AppendLine(s); }

var dir = Directory.CreateTempSubdirectory("edgehub-relbench-").FullName;
try
{
    KeyCeremony.Init(Path.Combine(dir, "keys"), new KeyInitOptions());
    var trust = Path.Combine(dir, "keys", "online");
    Line($"hub-releases bench, {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm}Z, {Environment.ProcessorCount} cores, {seconds}s per cell, {rounds} alternating rounds (median)");
    Line("");

    // ---- serving ----
    var port = FreePort();
    if (!publishOnly)
    {
        var options = new HubOptions { Store = "sqlite:" + Path.Combine(dir, "serve.db"), Urls = [$"http://127.0.0.1:{port}"], RetentionDays = 0, TrustDirectory = trust };
        await using (var app = await HubHost.BuildAsync(options, logging: l => l.SetMinimumLevel(LogLevel.Warning)))
        {
            var sizes = new[] { 1 << 20, 20 << 20 };
            var baseline = new Dictionary<int, byte[]>();
            app.MapGet("/baseline/{size:int}", (int size) => Results.Bytes(baseline[size], "application/octet-stream"));
            await app.StartAsync();
            var store = app.Services.GetRequiredService<IHubStore>();
            var signer = app.Services.GetRequiredService<ReleaseSigner>();
            var urls = new Dictionary<int, string>();
            foreach (var size in sizes)
            {
                var bundle = RandomNumberGenerator.GetBytes(size);
                baseline[size] = bundle;
                var version = $"{size >> 20}mb";
                await RegisterPaddedAsync(app, store, version, bundle);
                var release = await signer.PublishReleaseAsync("vib-mlp", version, "bench", default);
                urls[size] = $"http://127.0.0.1:{port}/tuf/targets/models/vib-mlp/{release.Sha256}.{version}.bundle";
            }

            Line("| file | clients | endpoint | MB/s | requests/s | ratio to baseline |");
            Line("|---|---:|---|---:|---:|---:|");
            foreach (var size in sizes)
                foreach (var clients in new[] { 1, 8, 32 })
                {
                    if (size > 1 << 20 && clients > 8) continue; // 32 × 20 MB in flight only measures memory pressure on 2 cores
                    var hub = new List<(double Mb, double Rps)>();
                    var plain = new List<(double Mb, double Rps)>();
                    for (var r = 0; r < rounds; r++)
                    {
                        plain.Add(await LoadAsync($"http://127.0.0.1:{port}/baseline/{size}", clients, seconds, size));
                        hub.Add(await LoadAsync(urls[size], clients, seconds, size));
                    }
                    var (hm, hr) = Median(hub);
                    var (bm, br) = Median(plain);
                    Line($"| {size >> 20} MB bundle | {clients} | /tuf/targets (ETag, Range) | {hm:0} | {hr:0.0} | {hm / bm:0.00} |");
                    Line($"| {size >> 20} MB bundle | {clients} | baseline Results.Bytes | {bm:0} | {br:0.0} | 1.00 |");
                }

            // timestamp.json is read from the store on every request (another instance may have just published).
            var ts = (await store.GetTufMetadataAsync("timestamp.json"))!.Content;
            baseline[-1] = ts;
            var tsHub = new List<(double Mb, double Rps)>();
            var tsPlain = new List<(double Mb, double Rps)>();
            for (var r = 0; r < rounds; r++)
            {
                tsPlain.Add(await LoadAsync($"http://127.0.0.1:{port}/baseline/-1", 8, seconds, ts.Length));
                tsHub.Add(await LoadAsync($"http://127.0.0.1:{port}/tuf/metadata/timestamp.json", 8, seconds, ts.Length));
            }
            Line($"| timestamp.json ({ts.Length} B) | 8 | /tuf/metadata (SQLite read per request) | - | {Median(tsHub).Rps:0} | {Median(tsHub).Rps / Median(tsPlain).Rps:0.00} |");
            Line($"| timestamp.json ({ts.Length} B) | 8 | baseline Results.Bytes | - | {Median(tsPlain).Rps:0} | 1.00 |");
            await app.StopAsync();
        }
    }

    // ---- publish cost ----
    Line("");
    Line("| store | operation | median ms | min ms |");
    Line("|---|---|---:|---:|");
    await PublishCostAsync("sqlite", "sqlite:" + Path.Combine(dir, "publish.db"), trust);
    await using (var pg = await PostgresServer.StartAsync(durable: true))
        await PublishCostAsync("postgres (fsync on)", "postgres:" + await pg.CreateDatabaseAsync("bench"), trust);
    InMemoryBaseline(trust);
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
}
if (output is not null) File.WriteAllText(output, report.ToString());
return 0;

async Task PublishCostAsync(string label, string storeSpec, string trustDir)
{
    var port = FreePort();
    await using var app = await HubHost.BuildAsync(new HubOptions { Store = storeSpec, Urls = [$"http://127.0.0.1:{port}"], RetentionDays = 0, TrustDirectory = trustDir },
        logging: l => l.SetMinimumLevel(LogLevel.Warning));
    await app.StartAsync();
    var store = app.Services.GetRequiredService<IHubStore>();
    var signer = app.Services.GetRequiredService<ReleaseSigner>();
    await RegisterPaddedAsync(app, store, "1.0.0", RandomNumberGenerator.GetBytes(4096));
    await signer.PublishReleaseAsync("vib-mlp", "1.0.0", "bench", default);
    var publisher = app.Services.GetRequiredService<IDeviceAssignmentPublisher>();
    var batches = new List<double>();
    var singles = new List<double>();
    for (var r = 0; r < Math.Max(rounds, 3); r++)
    {
        var batch = Enumerable.Range(0, 1000).Select(i => Assignment($"dev-{i:0000}", $"r{r}")).ToList();
        var sw = Stopwatch.StartNew();
        await publisher.PublishAsync(batch, default);
        batches.Add(sw.Elapsed.TotalMilliseconds);
        sw.Restart();
        await publisher.PublishAsync([Assignment("dev-0001", $"s{r}")], default);
        singles.Add(sw.Elapsed.TotalMilliseconds);
    }
    Line($"| {label} | 1,000 assignments in one batch (one assignments/snapshot/timestamp version) | {MedianOf(batches):0} | {batches.Min():0} |");
    Line($"| {label} | 1 assignment, 1,000 devices assigned | {MedianOf(singles):0} | {singles.Min():0} |");
    await app.StopAsync();
}

void InMemoryBaseline(string trustDir)
{
    // The signing work alone: the same repository shape, no store, no reload.
    using var keys = OnlineTrustKeys.Load(trustDir);
    var times = new List<double>();
    for (var r = 0; r < Math.Max(rounds, 3); r++)
    {
        var repo = TufRepository.FromRoot(keys.Roots[0], keys.All);
        repo.Delegate("targets", new DelegationSpec(DeviceAssignmentLayout.RoleName, [keys.Keys["assignments"]], 1, Paths: [DeviceAssignmentLayout.PathPattern]));
        foreach (var role in new[] { "targets", "snapshot", "timestamp", "assignments" }) repo.SetExpires(role, DateTimeOffset.UtcNow.AddDays(1));
        repo.PublishTargets("targets");
        var sw = Stopwatch.StartNew();
        foreach (var i in Enumerable.Range(0, 1000))
            repo.AddTarget(DeviceAssignmentLayout.TargetPath($"dev-{i:0000}"), DeviceAssignmentLayout.Serialize(Assignment($"dev-{i:0000}", "m")), role: DeviceAssignmentLayout.RoleName);
        repo.PublishTargets(DeviceAssignmentLayout.RoleName);
        repo.PublishSnapshot();
        repo.PublishTimestamp();
        times.Add(sw.Elapsed.TotalMilliseconds);
    }
    Line($"| in memory (baseline) | 1,000 assignments signed with TufRepository, no store | {MedianOf(times):0} | {times.Min():0} |");
}

static DeviceAssignment Assignment(string device, string rollout) => new()
{
    DeviceId = device, Rollout = rollout, IssuedAt = DateTimeOffset.UtcNow,
    Models = new(StringComparer.Ordinal) { ["vib-mlp"] = BundleLayout.TargetPath("vib-mlp", "1.0.0") },
};

// A real registration (checks, bundle) of a small generated model, then its manifest stored again under
// another version with `bundle` as the bundle bytes: serving and signing do not look inside bundles.
static async Task RegisterPaddedAsync(WebApplication app, IHubStore store, string version, byte[] bundle)
{
    var model = QdqMlp.Generate(new QdqMlpOptions { Seed = 42 });
    var registration = app.Services.GetRequiredService<ModelRegistration>();
    var seedVersion = "seed-" + version;
    var samples = model.ReferenceSamples(3);
    var manifest = new BundleManifest
    {
        Name = "vib-mlp", Version = seedVersion, ReleaseCounter = 1, HardwareIds = ["linux-x64"],
        Inputs = [new TensorDescriptor { Name = model.InputName, ElementType = "float32", Shape = [.. model.InputShape] }],
        Outputs = [new TensorDescriptor { Name = model.OutputName, ElementType = "float32", Shape = [.. model.OutputShape] }],
        Labels = [.. model.Labels], Windowing = new WindowingSpec { Length = 64, Stride = 32, Channels = 1, SampleRateHz = 100 },
        ConfidenceThreshold = 0.6, LatencyBudgetMs = 250,
        GoldenVectors = new GoldenVectorSet
        {
            Tolerance = model.ProbabilityTolerance,
            Vectors = [.. samples.Select(g => new GoldenVector { Input = (float[])g.Input.Data, Expected = (float[])g.ExpectedOutput.Data })],
        },
    };
    var registered = await registration.RegisterAsync(model.OnnxBytes, BundleManifestJson.Serialize(manifest), "bench", default);
    await store.RegisterModelAsync(registered.Record with { Version = version }, model.OnnxBytes, bundle, default);
}

static async Task<(double Mb, double Rps)> LoadAsync(string url, int clients, int seconds, long size)
{
    using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients, AutomaticDecompression = DecompressionMethods.None });
    long requests = 0, bytes = 0;
    using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
    var sw = Stopwatch.StartNew();
    await Task.WhenAll(Enumerable.Range(0, clients).Select(async _ =>
    {
        var buffer = new byte[81920];
        while (!stop.IsCancellationRequested)
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            await using var body = await response.Content.ReadAsStreamAsync();
            int n;
            long got = 0;
            while ((n = await body.ReadAsync(buffer)) > 0) got += n;
            if (got != size) throw new InvalidOperationException($"{url}: {got} bytes, expected {size}");
            Interlocked.Increment(ref requests);
            Interlocked.Add(ref bytes, got);
        }
    }));
    var s = sw.Elapsed.TotalSeconds;
    return (bytes / s / (1 << 20), requests / s);
}

static (double Mb, double Rps) Median(List<(double Mb, double Rps)> xs)
{
    var m = xs.OrderBy(x => x.Mb).ThenBy(x => x.Rps).ElementAt(xs.Count / 2);
    return m;
}

static double MedianOf(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);

static int FreePort()
{
    using var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    return ((IPEndPoint)l.LocalEndpoint).Port;
}

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
