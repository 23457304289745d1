// Hub benchmarks missing from issue 7: cloud-tier requests/s with p50/p99 against an echo responder on the same
// broker, and the fleet drift merge of 10,000 device sketches against deserialize-only. Results and the
// reproducing command: docs/bench/hub-cloud-tier.md.
// Run: dotnet run -c Release --project tests/bench/EdgeAgent.Hub.CloudTier.Bench -- [--quick] [--only cloud|merge] [--out FILE]
using System.Globalization;
using System.Text;
using EdgeAgent.Hub.CloudTier.Bench;
using EdgeAgent.TestSupport.Mosquitto;

bool quick = false;
string? only = null;
string? outPath = null;
int[] deviceCounts = [1, 8, 32];
double seconds = 5;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--quick": quick = true; seconds = 2; deviceCounts = [1, 8]; break;
        case "--only": only = args[++i]; break;
        case "--out": outPath = args[++i]; break;
        case "--seconds": seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--devices": deviceCounts = [.. args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))]; break;
        default:
            Console.Error.WriteLine($"unknown argument '{args[i]}' (use --quick, --only cloud|merge, --out FILE, --seconds S, --devices 1,8,32)");
            return 2;
    }
}

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
string work = Directory.CreateTempSubdirectory("edgehub-cloudtier-bench-").FullName;
var report = new StringBuilder();
string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
report.AppendLine($"Run {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, load average {load} at start, .NET {Environment.Version}, Mosquitto 2.0.11 on loopback, SQLite hub store (WAL).");
report.AppendLine();
try
{
    if (only is null or "merge")
    {
        int devices = 10_000;
        int valuesPerDevice = quick ? 5_000 : 20_000;
        var merge = new FleetMergeBench(work, devices, valuesPerDevice, runs: quick ? 3 : 7);
        Console.Error.WriteLine($"fleet merge: generating {devices:N0} device sketches of {valuesPerDevice:N0} values ...");
        IReadOnlyList<MergeRow> rows = await merge.RunAsync();
        report.AppendLine($"### Fleet sketch merge: {devices:N0} devices, one feature, one day (k = 200, {valuesPerDevice:N0} values per device, {merge.MeanSketchBytes:N0} B per serialized sketch on average)");
        report.AppendLine();
        report.AppendLine("| step | wall ms (min) | wall ms (median) | process CPU ms (min) | µs per device (min wall) |");
        report.AppendLine("|---|---:|---:|---:|---:|");
        foreach (MergeRow r in rows)
        {
            report.AppendLine($"| {r.What} | {r.MinWallMs:F1} | {r.MedianWallMs:F1} | {r.MinCpuMs:F0} | {r.MinWallMs * 1000 / devices:F2} |");
        }

        report.AppendLine();
        report.AppendLine($"Check: {merge.ResultSummary}.");
        report.AppendLine();
        Console.Error.WriteLine(report.ToString());
    }

    if (only is null or "cloud")
    {
        await using MosquittoBroker broker = await MosquittoBroker.StartAsync();
        var bench = new CloudTierBench(broker, work, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(seconds));
        await bench.PrepareAsync();
        var rows = new List<CloudTierRow>();
        foreach (int devices in deviceCounts)
        {
            foreach (int instances in new[] { 1, 2 })
            {
                // Baseline and hub back to back for each shape, so machine noise hits both alike.
                foreach (string responder in new[] { "echo", "hub" })
                {
                    CloudTierRow row = await bench.RunAsync(responder, instances, devices);
                    rows.Add(row);
                    Console.Error.WriteLine($"{responder} x{instances}, {devices} devices: {row.RequestsPerSecond:N0} req/s p50 {row.P50Us:N0} µs p99 {row.P99Us:N0} µs errors {row.Errors} broker cpu {row.BrokerCpuSeconds:F2}s own cpu {row.OwnCpuSeconds:F2}s");
                }
            }
        }

        report.AppendLine($"### Cloud tier request/response ({seconds:0.#} s measured per row after 1 s warm-up; devices ask one request at a time, closed loop)");
        report.AppendLine();
        report.AppendLine("| responder | instances in `$share` group | devices | requests | requests/s | p50 µs | p99 µs | max µs | hub/echo req/s | broker CPU s | bench process CPU s |");
        report.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (CloudTierRow r in rows)
        {
            CloudTierRow echo = rows.First(e => e.Responder == "echo" && e.Instances == r.Instances && e.Devices == r.Devices);
            string versus = r.Responder == "hub" ? $"{r.RequestsPerSecond / echo.RequestsPerSecond:F2}" : "–";
            string name = r.Responder == "hub" ? "hub CloudInferenceResponder (ONNX + SQLite)" : "baseline: echo responder";
            report.AppendLine($"| {name} | {r.Instances} | {r.Devices} | {r.Requests:N0} | {r.RequestsPerSecond:N0} | {r.P50Us:N0} | {r.P99Us:N0} | {r.MaxUs:N0} | {versus} | {r.BrokerCpuSeconds:F2} | {r.OwnCpuSeconds:F2} |");
        }

        report.AppendLine();
        report.AppendLine("Where a hub request's service time goes (each step of `CloudInferenceResponder.HandleAsync` called alone, same store/model/request, 2,000 calls):");
        report.AppendLine();
        report.AppendLine("| step | median µs | p99 µs |");
        report.AppendLine("|---|---:|---:|");
        foreach (var (step, median, p99) in await bench.ServiceTimeAsync(2000))
        {
            report.AppendLine($"| {step} | {median:N0} | {p99:N0} |");
        }

        long errors = rows.Sum(r => r.Errors);
        report.AppendLine();
        report.AppendLine($"Every answer was checked with the device's own parser (`CloudTier.Parse`): {errors} rejected.");
        report.AppendLine();
    }
}
finally
{
    Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    try
    {
        Directory.Delete(work, recursive: true);
    }
    catch (IOException)
    {
        // A file still open on a slow shutdown; the temp directory is left behind.
    }
}

Console.WriteLine(report.ToString());
if (outPath is not null)
{
    await File.WriteAllTextAsync(outPath, report.ToString());
}

return 0;
