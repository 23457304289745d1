// Hosting benchmarks (docs/bench/hosting.md). Every measurement is paired with a baseline taken in the
// same run on the same machine:
//   counter/histogram update      vs  a bare Interlocked.Increment
//   control socket request        vs  a raw Unix-socket echo round trip (connect, 4+N bytes each way)
//   GET /metrics over HTTP        vs  rendering the same registry in-process
// Usage: dotnet run -c Release --project tests/bench/EdgeAgent.Hosting.Bench [-- iterations-scale]
//        dotnet run -c Release --project tests/bench/EdgeAgent.Hosting.Bench -- startup ROUNDS AGENT [AGENT ...]
//        (agent start-to-READY and RSS; see StartupBench.cs)
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using EdgeAgent.Hosting.Control;
using EdgeAgent.Hosting.Metrics;
using Microsoft.Extensions.Logging.Abstractions;

if (args.Length > 2 && args[0] == "startup")
{
    await StartupBench.RunAsync(args[2..], int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
    return;
}

double scale = args.Length > 0 ? double.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 1;
int N(int n) => Math.Max(1, (int)(n * scale));
var rows = new List<string>();
void Row(string what, string value, string baseline, string note) => rows.Add($"| {what} | {value} | {baseline} | {note} |");

// --- metrics hot path, one thread ---------------------------------------------------------------
var registry = new MetricsRegistry();
var metrics = new AgentMetrics(registry, TimeProvider.System);
var counter = metrics.Inferences.WithLabels("kws", "confident");
var histogram = metrics.InferenceLatency.WithLabels("kws");
long plain = 0;
int ops = N(20_000_000);

double NsPerOp(Action<int> body, int n)
{
    body(n / 10); // warm up (tiering)
    long alloc = GC.GetAllocatedBytesForCurrentThread();
    var sw = Stopwatch.StartNew();
    body(n);
    sw.Stop();
    long allocated = GC.GetAllocatedBytesForCurrentThread() - alloc;
    // A few bytes per run can come from the JIT's tier-up on this thread; per operation it must be 0.
    if (allocated >= n) throw new InvalidOperationException($"hot path allocated {allocated} bytes over {n} operations");
    return sw.Elapsed.TotalNanoseconds / n;
}

double baseInc = NsPerOp(n => { for (int i = 0; i < n; i++) Interlocked.Increment(ref plain); }, ops);
double inc = NsPerOp(n => { for (int i = 0; i < n; i++) counter.Inc(); }, ops);
double observe = NsPerOp(n => { for (int i = 0; i < n; i++) histogram.Observe((i & 1023) * 1e-5); }, ops);
Row("Counter.Inc (1 thread)", $"{inc:0.0} ns, 0 B", $"{baseInc:0.0} ns Interlocked.Increment", "CAS on double bits");
Row("Histogram.Observe, 13 buckets (1 thread)", $"{observe:0.0} ns, 0 B", $"{baseInc:0.0} ns Interlocked.Increment", "bucket scan + increment + CAS sum");

// --- contended: all cores hammer the same counter ------------------------------------------------
int threads = Environment.ProcessorCount;
double Contended(Action<int> body, int perThread)
{
    var sw = Stopwatch.StartNew();
    Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ => body(perThread));
    return sw.Elapsed.TotalNanoseconds / ((double)perThread * threads);
}
int per = N(5_000_000);
double cBase = Contended(n => { for (int i = 0; i < n; i++) Interlocked.Increment(ref plain); }, per);
double cInc = Contended(n => { for (int i = 0; i < n; i++) counter.Inc(); }, per);
Row($"Counter.Inc, {threads} threads same counter", $"{cInc:0.0} ns/op", $"{cBase:0.0} ns/op Interlocked.Increment", "wall time / total ops");

// --- scrape --------------------------------------------------------------------------------------
for (int m = 0; m < 20; m++) metrics.InferenceLatency.WithLabels($"model{m}").Observe(0.003);
for (int f = 0; f < 64; f++) metrics.DriftScore.WithLabels("kws", $"f{f}", "psi").Set(f * 0.01);
int renders = N(2000);
string text = registry.Render();
for (int i = 0; i < renders / 4; i++) text = registry.Render(); // tier-up before timing
var rl = new double[renders];
for (int i = 0; i < renders; i++)
{
    var s = Stopwatch.StartNew();
    text = registry.Render();
    rl[i] = s.Elapsed.TotalMicroseconds;
}
Array.Sort(rl);
double renderUs = rl[renders / 2];

await using var exporter = new MetricsExporter(registry, IPAddress.Loopback, 0, NullLogger<MetricsExporter>.Instance);
await exporter.StartAsync(CancellationToken.None);
using var http = new HttpClient();
string url = $"http://127.0.0.1:{exporter.Port}/metrics";
for (int i = 0; i < 20; i++) await http.GetStringAsync(url);
int scrapes = N(500);
var lat = new double[scrapes];
for (int i = 0; i < scrapes; i++)
{
    var s = Stopwatch.StartNew();
    await http.GetStringAsync(url);
    lat[i] = s.Elapsed.TotalMicroseconds;
}
Array.Sort(lat);
Row($"GET /metrics ({text.Length / 1024.0:0.0} KiB, {text.Count(c => c == '\n')} lines)", $"median {lat[scrapes / 2]:0} µs, p99 {lat[scrapes * 99 / 100]:0} µs",
    $"median {renderUs:0} µs render in-process", "new TCP connection per scrape (Connection: close)");

// --- control socket ------------------------------------------------------------------------------
string dir = Directory.CreateTempSubdirectory("ea-bench-").FullName;
var commands = new ControlCommandRegistry();
var status = JsonDocument.Parse("""{"deviceId":"pump-07","ready":true,"model":"kws","outboxDepth":3}""").RootElement;
commands.Register("status", (_, _) => ValueTask.FromResult(status));
await using var server = new ControlServer(commands, new ControlServerOptions { SocketPath = Path.Combine(dir, "control.sock") }, NullLogger<ControlServer>.Instance);
await server.StartAsync(CancellationToken.None);
var client = new ControlClient(Path.Combine(dir, "control.sock"));
for (int i = 0; i < 50; i++) await client.SendAsync("status");
int calls = N(2000);
var cl = new double[calls];
for (int i = 0; i < calls; i++)
{
    var s = Stopwatch.StartNew();
    await client.SendAsync("status");
    cl[i] = s.Elapsed.TotalMicroseconds;
}
Array.Sort(cl);

// Baseline: raw echo over a Unix socket, same framing sizes, a new connection per call.
string echoPath = Path.Combine(dir, "echo.sock");
using var echo = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
echo.Bind(new UnixDomainSocketEndPoint(echoPath));
echo.Listen(16);
_ = Task.Run(async () =>
{
    var buf = new byte[4096];
    while (true)
    {
        using var c = await echo.AcceptAsync();
        int n = await c.ReceiveAsync(buf);
        await c.SendAsync(buf.AsMemory(0, n));
    }
});
var payload = new byte[4 + 60];
var bl = new double[calls];
for (int i = -50; i < calls; i++)
{
    var s = Stopwatch.StartNew();
    using var c = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    await c.ConnectAsync(new UnixDomainSocketEndPoint(echoPath));
    await c.SendAsync(payload);
    var rb = new byte[4096];
    await c.ReceiveAsync(rb);
    if (i >= 0) bl[i] = s.Elapsed.TotalMicroseconds;
}
Array.Sort(bl);
Row("control socket request `status`", $"median {cl[calls / 2]:0} µs, p99 {cl[calls * 99 / 100]:0} µs",
    $"median {bl[calls / 2]:0} µs raw Unix-socket echo", "connect + framed JSON + dispatch + reply");

// --- sd_notify -----------------------------------------------------------------------------------
string notifyPath = Path.Combine(dir, "notify.sock");
using var sink = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
sink.Bind(new UnixDomainSocketEndPoint(notifyPath));
sink.ReceiveBufferSize = 1 << 20;
using var notifier = new EdgeAgent.Hosting.Systemd.SystemdNotifier(notifyPath);
int pings = N(20_000);
var drain = Task.Run(() => { var b = new byte[256]; for (int i = 0; i < pings; i++) sink.Receive(b); });
var swn = Stopwatch.StartNew();
for (int i = 0; i < pings; i++) notifier.Notify("WATCHDOG=1");
double notifyUs = swn.Elapsed.TotalMicroseconds / pings;
await drain;
Row("sd_notify WATCHDOG=1 datagram", $"{notifyUs:0.0} µs", "—", "sent every WatchdogSec/2 (15 s by default): negligible");

Directory.Delete(dir, recursive: true);
Console.WriteLine($"EdgeAgent hosting benchmarks — {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}, {DateTime.UtcNow:u}");
Console.WriteLine();
Console.WriteLine("| measurement | EdgeAgent | baseline (same run) | note |");
Console.WriteLine("|---|---|---|---|");
foreach (var r in rows) Console.WriteLine(r);
